// What a manager reads on the analytics page without a manual (issue 17): yesterday of four
// machines on two lines and one without, in a Berlin plant with three shifts. The machines get
// their line, area and own target on the Loggers page, the plant its target in Settings; the
// table groups the machines by line with subtotals and marks the one below its target in words;
// the trend shows all machines, a line or a machine against its target; the shifts are compared
// with the sums of the API's shift buckets; a Pareto bar tells its figures on hover and on
// keyboard focus; and 30 days of labels never overlap, on a desk or on a phone.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHours, formatMeanTime, formatPercent } from '../src/format';
import { formatDateTime, localDate, parseLocalDateTime, periodSpan } from '../src/time';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, sidewaysReach, signIn, signUpByApi, startServer, userApi } from './harness';

const ZONE = 'Europe/Berlin';
const EMAIL = 'ada@plant.example';
const PASSWORD = 'correct horse battery';
let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let api: ReturnType<typeof userApi>;
const yesterday = periodSpan('yesterday', Date.now(), ZONE);
const day = localDate(yesterday.from, ZONE);
const at = (hhmm: string) => parseLocalDateTime(`${day}T${hhmm}`, ZONE);
const ids: Record<string, number> = {};

interface Figures {
  run_ms: number;
  down_ms: number;
  stops: number;
  availability: number | null;
  mttr_ms: number | null;
}

interface Bucket extends Figures {
  start: string;
  shift?: string;
}

interface Analytics {
  assets: (Figures & { asset_id: number; asset_name: string; buckets: Bucket[] })[];
  total: Figures & { downtime_by_reason: { name: string; down_ms: number; stops: number }[]; buckets: Bucket[] };
}

/** Figures summed as a person would with a calculator: times and stops added, availability and MTTR from the sums. */
function summed(rows: Figures[]) {
  const run = rows.reduce((n, r) => n + r.run_ms, 0);
  const down = rows.reduce((n, r) => n + r.down_ms, 0);
  const stops = rows.reduce((n, r) => n + r.stops, 0);
  return {
    availability: formatPercent(run + down === 0 ? null : run / (run + down)),
    run_ms: formatHours(run),
    down_ms: formatHours(down),
    stops: String(stops),
    mttr_ms: formatMeanTime(stops === 0 ? null : Math.floor(down / stops)),
  };
}

const analytics = (query: string) => api.get<Analytics>(`/api/v1/analytics?from=${yesterday.from}&to=${yesterday.to}${query}`);

/** The seeded day, as From and To dates (a run across midnight in Berlin still shows it). */
async function showSeededDay(p: Page = page) {
  await p.getByLabel('Period').selectOption('custom');
  await p.getByLabel('From', { exact: true }).fill(day);
  await p.getByLabel('To', { exact: true }).fill(day);
  // The whole day and only it (not the two days shown while From is set and To not yet).
  await expect
    .poll(() => p.locator('.period-shown').innerText())
    .toContain(`${formatDateTime(yesterday.from, ZONE, 'en-GB')} to ${formatDateTime(yesterday.to, ZONE, 'en-GB')}`);
}

async function openAnalytics() {
  await page.getByRole('link', { name: 'Analytics' }).click();
  await showSeededDay();
}

const cell = (row: string, col: string) => page.locator(`${row} td[data-col="${col}"]`);
const machineRow = (name: string) => `#asset-figures tbody tr[data-asset-id="${ids[name]}"]`;

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto' });
  const { token } = await signUpByApi(server, EMAIL, PASSWORD);
  api = userApi(server, token);
  await api.put('/api/v1/settings', { timezone: ZONE });
  // Three shifts round the clock, every day, from 1970 on, so that the seeded past uses them.
  const every = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  await api.put('/api/v1/shifts?from=1970-01-01', [
    { name: 'Early', days: every, start: '06:00', end: '14:00' },
    { name: 'Late', days: every, start: '14:00', end: '22:00' },
    { name: 'Night', days: every, start: '22:00', end: '06:00' },
  ]);
  // From tomorrow on the plant has no shifts (for the page that says so).
  await api.put(`/api/v1/shifts?from=${localDate(Date.now() + 86_400_000, ZONE)}`, []);

  const device = new Device(server, 'esp32-HALL');
  await device.register(
    [
      { pin_number: 1, asset_name: 'Press 1' },
      { pin_number: 2, asset_name: 'Press 2' },
      { pin_number: 3, asset_name: 'Saw 1' },
      { pin_number: 4, asset_name: 'Robot' },
    ],
    'Hall logger',
  );
  const history: [number, string, boolean][] = [
    // Press 1: three short stops, one in each shift.
    [1, '00:00', true],
    [1, '07:00', false],
    [1, '07:30', true],
    [1, '15:00', false],
    [1, '15:10', true],
    [1, '23:00', false],
    [1, '23:02', true],
    // Press 2: a tool change in the early shift, a stop in the night before it.
    [2, '00:00', true],
    [2, '02:00', false],
    [2, '02:20', true],
    [2, '09:00', false],
    [2, '10:00', true],
    // Saw 1: jammed from noon to six (early into late).
    [3, '00:00', true],
    [3, '12:00', false],
    [3, '18:00', true],
    // Robot: a short stop at night, stopped from 20:00 on.
    [4, '00:00', true],
    [4, '04:00', false],
    [4, '04:03', true],
    [4, '20:00', false],
  ];
  await device.batch(history.map(([pin, t, running]) => ({ pin, running, ts: at(t) })).sort((a, b) => a.ts - b.ts));
  for (const a of await api.get<{ id: number; name: string }[]>('/api/v1/assets')) ids[a.name] = a.id;
  await api.put(`/api/v1/assets/${ids['Press 1']}`, { line: 'Line A', area: 'Hall 1' });
  await api.put(`/api/v1/assets/${ids['Press 2']}`, { line: 'Line A', area: 'Hall 1' });

  // Two reasons, so the Pareto has three bars: Jam (6 h), the unassigned rest, Tool change (1 h).
  const jam = await api.post<{ id: number }>('/api/v1/reasons', { category: 'Material', name: 'Jam' });
  const tool = await api.post<{ id: number }>('/api/v1/reasons', { category: 'Tooling', name: 'Tool change' });
  const stops = await api.get<{ id: string; asset_id: number; start: number }[]>(`/api/v1/stops?from=${yesterday.from}&to=${yesterday.to}`);
  const stopOf = (machine: string, t: string) => stops.find((s) => s.asset_id === ids[machine] && s.start === at(t))!.id;
  await api.put(`/api/v1/stops/${encodeURIComponent(stopOf('Saw 1', '12:00'))}`, { reason_id: jam.id, comment: '' });
  await api.put(`/api/v1/stops/${encodeURIComponent(stopOf('Press 2', '09:00'))}`, { reason_id: tool.id, comment: '' });

  ({ page, errors } = await openPage(browser, server));
  await signIn(page, EMAIL, PASSWORD);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('analytics a manager reads without a manual', () => {
  it('gives a machine its line, area and own target on the Loggers page', async () => {
    await page.getByRole('link', { name: 'Loggers' }).click();
    await page.getByRole('button', { name: 'Edit Saw 1' }).click();
    const form = page.getByRole('form', { name: 'Edit Saw 1' });
    // The lines already named are offered, so that a line keeps one spelling.
    await expect(page.locator('#known-lines option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).resolves.toEqual(['Line A']);
    await form.getByLabel(/^Line/).fill('Line B');
    await form.getByLabel(/^Area/).fill('Hall 2');
    await form.getByLabel(/^Target availability/).fill('50');
    await screenshot(page, 'loggers-asset-edit');
    expect(await accessibilityProblems(page)).toEqual([]);
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await expect(page.locator(`li[data-asset-id="${ids['Saw 1']}"]`).innerText()).resolves.toContain('Line B · Hall 2, target 50 %');
    const saw = (await api.get<{ id: number; line: string | null; area: string | null; target_availability: number | null }[]>('/api/v1/assets')).find(
      (a) => a.id === ids['Saw 1'],
    );
    expect(saw).toMatchObject({ line: 'Line B', area: 'Hall 2', target_availability: 0.5 });

    // Emptied, a field clears: the area goes, the rest stays.
    await page.getByRole('button', { name: 'Edit Saw 1' }).click();
    await expect(form.getByLabel(/^Target availability/).inputValue()).resolves.toBe('50');
    await form.getByLabel(/^Area/).fill('');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    await expect
      .poll(async () => (await api.get<{ id: number; area: string | null; line: string | null }[]>('/api/v1/assets')).find((a) => a.id === ids['Saw 1']))
      .toMatchObject({ area: null, line: 'Line B' });
    expect(errors).toEqual([]);
  });

  it('sets the plant’s target availability in Settings, kept after a reload', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    const field = page.getByLabel('Target availability (%)');
    await expect(field.inputValue()).resolves.toBe('');
    await field.fill('85');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).first().waitFor();
    await expect(api.get('/api/v1/settings')).resolves.toMatchObject({ target_availability: 0.85 });
    await page.reload();
    await expect.poll(() => page.getByLabel('Target availability (%)').inputValue()).toBe('85');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('groups the table by line, with a subtotal per line from the sums, and keeps the sort inside each line', async () => {
    await openAnalytics();
    const expected = await analytics('');
    const groups = page.locator('#asset-figures tbody');
    await expect.poll(() => groups.evaluateAll((bs) => bs.map((b) => b.getAttribute('data-line')))).toEqual(['Line A', 'Line B', '']);
    await expect(groups.locator('tr.line-head th').allInnerTexts()).resolves.toEqual(['Line A (2 machines)', 'Line B (1 machine)', 'No line (1 machine)']);
    const rowsOf = (line: string) =>
      page.locator(`#asset-figures tbody[data-line="${line}"] tr[data-asset-id]`).evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-asset-id'))));
    await expect(rowsOf('Line A')).resolves.toEqual([ids['Press 1'], ids['Press 2']]);
    await expect(rowsOf('Line B')).resolves.toEqual([ids['Saw 1']]);
    await expect(rowsOf('')).resolves.toEqual([ids['Robot']]);

    const members: Record<string, string[]> = { 'Line A': ['Press 1', 'Press 2'], 'Line B': ['Saw 1'], '': ['Robot'] };
    for (const [line, names] of Object.entries(members)) {
      const want = summed(expected.assets.filter((a) => names.includes(a.asset_name)));
      const row = `#asset-figures tr[data-subtotal="${line}"]`;
      await expect(page.locator(`${row} th`).innerText()).resolves.toBe(`Subtotal ${line || 'No line'}`);
      for (const [col, text] of Object.entries(want)) {
        const shown = col === 'availability' ? page.locator(`${row} td[data-col="availability"] .value`) : cell(row, col);
        await expect(shown.innerText(), `${line || 'No line'} ${col}`).resolves.toBe(text);
      }
    }
    // Line A's availability is not either machine's: it comes from the sums.
    const lineA = summed(expected.assets.filter((a) => members['Line A']!.includes(a.asset_name))).availability;
    expect(expected.assets.filter((a) => a.asset_name.startsWith('Press')).map((a) => formatPercent(a.availability))).not.toContain(lineA);
    // The total of all machines stays under the groups.
    await expect(page.locator('#asset-figures tfoot td[data-col="availability"] .value').innerText()).resolves.toBe(formatPercent(expected.total.availability));

    // Sorted by availability, lowest first (Press 2 stopped longer than Press 1), each line keeps
    // its place and sorts inside.
    const availability = (name: string) => expected.assets.find((a) => a.asset_name === name)!.availability!;
    expect(availability('Press 2')).toBeLessThan(availability('Press 1'));
    await page.getByRole('button', { name: 'Availability' }).click();
    await page.getByRole('button', { name: 'Availability' }).click();
    await expect.poll(() => page.locator('#asset-figures thead th[aria-sort="ascending"]').innerText()).toContain('Availability');
    await expect(rowsOf('Line A')).resolves.toEqual([ids['Press 2'], ids['Press 1']]);
    await expect(groups.evaluateAll((bs) => bs.map((b) => b.getAttribute('data-line')))).resolves.toEqual(['Line A', 'Line B', '']);
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('marks a machine below its target in words, lets a machine’s own target win, and draws the target on the trend', async () => {
    await openAnalytics();
    const expected = await analytics('');
    const figures = (name: string) => expected.assets.find((a) => a.asset_name === name)!;
    // The robot (stopped from 20:00) misses the plant's 85 %; Saw 1 (75 %) meets its own 50 %.
    expect(figures('Robot').availability).toBeLessThan(0.85);
    expect(figures('Saw 1').availability).toBeLessThan(0.85);
    expect(figures('Saw 1').availability).toBeGreaterThan(0.5);
    const robot = cell(machineRow('Robot'), 'availability');
    // Polled: until the seeded day's figures arrive, the table shows the period the page opened with.
    await expect.poll(() => robot.locator('.value').innerText()).toBe(formatPercent(figures('Robot').availability));
    await expect(robot.getAttribute('data-below-target')).resolves.toBe('true');
    await expect(robot.locator('.target-cue').innerText()).resolves.toBe('▼ below target 85 %');
    // Colour too, not colour alone.
    const background = await robot.evaluate((el) => getComputedStyle(el).backgroundColor);
    const plain = await cell(machineRow('Press 1'), 'availability').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(background).not.toBe(plain);
    for (const name of ['Saw 1', 'Press 1', 'Press 2']) {
      await expect(cell(machineRow(name), 'availability').getAttribute('data-below-target'), name).resolves.toBeNull();
      await expect(cell(machineRow(name), 'availability').innerText(), name).resolves.not.toContain('below target');
    }
    await expect(cell(machineRow('Saw 1'), 'availability').getAttribute('data-target')).resolves.toBe('0.5');
    // The group of the robot (no line) is below the plant's target too.
    await expect(page.locator('#asset-figures tr[data-subtotal=""] td[data-col="availability"]').innerText()).resolves.toContain('below target 85 %');

    // The trend of all machines draws the plant's target, named in the legend and beside the chart.
    const trend = page.locator('section[aria-labelledby="trend-title"]');
    await expect(trend.locator('.trend-target').innerText()).resolves.toBe('Dashed line: target 85 %, the plant’s.');
    await expect(trend.locator('.u-legend').innerText()).resolves.toContain('Target 85 %');
    await expect(trend.locator('.chart-box').getAttribute('aria-label')).resolves.toContain('against the target 85 %');

    // One machine: its own target.
    await trend.getByLabel('Show').selectOption({ label: 'Saw 1' });
    await expect.poll(() => trend.locator('.trend-target').innerText()).toBe('Dashed line: target 50 %, the machine’s own.');
    await expect(trend.locator('.u-legend').innerText()).resolves.toContain('Target 50 %');
    await expect(trend.locator('.u-legend').innerText()).resolves.toContain('Saw 1');

    // One line: the line's machines summed bucket by bucket, as the table under the chart says.
    await trend.getByLabel('Show').selectOption({ label: 'Line A' });
    await expect.poll(() => trend.locator('.chart-box').getAttribute('aria-label')).toContain('Availability of Line A');
    const hours = await analytics('&bucket=hour');
    const lineA = hours.assets.filter((a) => a.asset_name.startsWith('Press'));
    await trend.getByText('Show as a table').click();
    const shown = await trend.locator('#trend-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ start: tr.getAttribute('data-start'), availability: tr.querySelector('td[data-col="availability"] .value')!.textContent })),
    );
    expect(shown.length).toBe(hours.total.buckets.length);
    shown.forEach((row, i) => {
      expect(row.start).toBe(hours.total.buckets[i]!.start);
      expect(row.availability, row.start!).toBe(summed(lineA.map((a) => a.buckets[i]!)).availability);
    });
    // The 02:00 hour: Press 2 stopped 20 min, Press 1 ran; neither machine's own figure.
    const two = shown.findIndex((r) => Date.parse(r.start!) === at('02:00'));
    expect(shown[two]!.availability).toBe(formatPercent(100 / 120));
    // The choice is in the address, so a reload keeps it.
    expect(new URL(page.url()).searchParams.get('trend')).toBe('line:Line A');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('compares Early, Late and Night with the sums of the API’s shift buckets', async () => {
    await openAnalytics();
    const shifts = await analytics('&bucket=shift');
    const section = page.locator('section[aria-labelledby="shifts-title"]');
    const rows = section.locator('#shift-figures tbody tr');
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-shift')))).toEqual(['Early', 'Late', 'Night']);
    const buckets = shifts.assets.flatMap((a) => a.buckets);
    for (const name of ['Early', 'Late', 'Night']) {
      const mine = buckets.filter((b) => b.shift === name);
      expect(mine.length, name).toBeGreaterThan(0);
      const want = summed(mine);
      const row = `#shift-figures tr[data-shift="${name}"]`;
      await expect(page.locator(`${row} td[data-col="availability"] .value`).innerText(), `${name} availability`).resolves.toBe(want.availability);
      for (const col of ['run_ms', 'down_ms', 'stops', 'mttr_ms'] as const) {
        await expect(cell(row, col).innerText(), `${name} ${col}`).resolves.toBe(want[col]);
      }
    }
    // The night is two occurrences (into yesterday, out of it), summed; the shifts differ.
    await expect(page.locator('#shift-figures tr[data-shift="Night"] th').innerText()).resolves.toContain('2 times');
    const availabilities = await rows.locator('td[data-col="availability"] .value').allInnerTexts();
    expect(new Set(availabilities).size).toBe(3);
    // Late (Saw 1 jammed until six, the robot stopped from eight) misses the plant's target; Early does not.
    await expect(page.locator('#shift-figures tr[data-shift="Late"] td[data-col="availability"]').innerText()).resolves.toContain('below target 85 %');
    await expect(page.locator('#shift-figures tr[data-shift="Early"] td[data-col="availability"]').innerText()).resolves.not.toContain('below target');
    expect(await accessibilityProblems(page)).toEqual([]);

    // In shift buckets (the page's own answer, not a second one) the comparison is the same,
    // and the trend runs shift by shift.
    const shown = await rows.allInnerTexts();
    await page.getByLabel('Bucket').selectOption('shift');
    await expect.poll(() => page.locator('#trend-title').innerText()).toBe('Availability by shift');
    await expect(rows.allInnerTexts()).resolves.toEqual(shown);
    await screenshot(page, 'analytics-shifts');

    // A period without shifts says so plainly: the day after tomorrow (tomorrow still has the
    // night shift that starts today).
    const later = localDate(Date.now() + 2 * 86_400_000, ZONE);
    await page.getByLabel('From', { exact: true }).fill(later);
    await page.getByLabel('To', { exact: true }).fill(later);
    await expect.poll(() => section.innerText()).toContain('No shifts in this period');
    await expect(section.locator('#shift-figures').count()).resolves.toBe(0);
    expect(errors).toEqual([]);
  });

  it('tells a Pareto bar’s reason, down time, stops, share and cumulative share on hover and on keyboard focus', async () => {
    await openAnalytics();
    const expected = await analytics('');
    const reasons = [...expected.total.downtime_by_reason].filter((r) => r.down_ms > 0).sort((a, b) => b.down_ms - a.down_ms);
    expect(reasons.map((r) => r.name)).toEqual(['Jam', 'Unassigned', 'Tool change']);
    const total = reasons.reduce((n, r) => n + r.down_ms, 0);
    const tip = (i: number) => {
      const r = reasons[i]!;
      const before = reasons.slice(0, i + 1).reduce((n, x) => n + x.down_ms, 0);
      return [r.name, `Down ${formatMeanTime(r.down_ms)}`, r.stops === 1 ? '1 stop' : `${r.stops} stops`, `${formatPercent(r.down_ms / total, 0)} of the down time`, `${formatPercent(before / total, 0)} cumulative`];
    };
    const bars = page.locator('.pareto-bar');
    await expect.poll(() => bars.count()).toBe(3);
    const visibleTip = page.locator('.pareto-tip:visible');
    await expect(visibleTip.count()).resolves.toBe(0);

    // The pointer on the first bar.
    await bars.nth(0).hover();
    await expect.poll(() => visibleTip.innerText()).toBe(tip(0).join('\n'));
    expect(tip(0)).toEqual(['Jam', 'Down 6 h 00 min', '1 stop', expect.stringMatching(/ % of the down time$/), expect.stringMatching(/ % cumulative$/)]);
    await screenshot(page, 'analytics-manager');
    await page.mouse.move(0, 0);
    await expect.poll(() => visibleTip.count()).toBe(0);

    // The keyboard: focus the bars, move with the arrows, Escape hides.
    await bars.nth(0).focus();
    await expect.poll(() => visibleTip.innerText()).toBe(tip(0).join('\n'));
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-reason'))).toBe('Unassigned');
    await expect.poll(() => visibleTip.innerText()).toBe(tip(1).join('\n'));
    // A screen reader hears the same: the tooltip describes the focused bar.
    const described = await bars.nth(1).evaluate((el) => document.getElementById(el.getAttribute('aria-describedby')!)?.getAttribute('role'));
    expect(described).toBe('tooltip');
    await page.keyboard.press('End');
    await expect.poll(() => visibleTip.innerText()).toBe(tip(2).join('\n'));
    await page.keyboard.press('Escape');
    await expect.poll(() => visibleTip.count()).toBe(0);
    // One tab stop for the bars: Tab leaves them.
    await expect(bars.evaluateAll((bs) => bs.map((b) => (b as HTMLElement).tabIndex))).resolves.toEqual([-1, -1, 0]);
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('shows the figures per machine and per shift as cards on a phone, lines, subtotals and targets included', async () => {
    const phone = await openPage(browser, server, { width: 390, height: 844 });
    try {
      await signIn(phone.page, EMAIL, PASSWORD);
      await phone.page.goto('/analytics');
      await showSeededDay(phone.page);
      await phone.page.locator('#shift-figures tbody tr').nth(2).waitFor();
      await phone.page.locator('#asset-figures tr[data-subtotal=""] td[data-col="availability"] .target-cue').waitFor();
      await expect(phone.page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(390);
      const reach = await sidewaysReach(phone.page);
      expect(reach.right, reach.what).toBeLessThanOrEqual(390);
      expect(reach.scrollingFrames).toEqual([]);
      // Each card: the name across the top, then the figures, each under its label, inside the card.
      for (const row of ['#asset-figures tr[data-subtotal="Line A"]', machineRow('Robot'), '#asset-figures tfoot tr', '#shift-figures tr[data-shift="Late"]']) {
        const card = phone.page.locator(row);
        const frame = (await card.boundingBox())!;
        const name = (await card.locator('th').boundingBox())!;
        const cells = card.locator('td');
        for (let i = 0; i < (await cells.count()); i++) {
          const box = (await cells.nth(i).boundingBox())!;
          expect(box.y, `${row} cell ${i}`).toBeGreaterThan(name.y + name.height - 1);
          expect(box.x, `${row} cell ${i}`).toBeGreaterThanOrEqual(frame.x);
          expect(box.x + box.width, `${row} cell ${i}`).toBeLessThanOrEqual(frame.x + frame.width);
        }
        const labels = await cells.evaluateAll((tds) => tds.map((td) => getComputedStyle(td, '::before').content));
        expect(labels.slice(0, 2), row).toEqual(['"Availability"', '"Run"']);
      }
      // The mark of a figure below its target stays in words.
      await expect(phone.page.locator(`${machineRow('Robot')} td[data-col="availability"]`).innerText()).resolves.toContain('below target 85 %');
      // The sort buttons are still there, above the cards.
      await phone.page.locator('#asset-figures thead').getByRole('button', { name: 'Stops' }).click();
      await expect.poll(() => phone.page.locator('#asset-figures thead th[aria-sort="descending"]').innerText()).toContain('Stops');
      await screenshot(phone.page, 'analytics-figures-phone');
      expect(await accessibilityProblems(phone.page)).toEqual([]);
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.context.close();
    }
  });

  it('labels 30 days by day without overlap, at 1280 px and at 390 px', async () => {
    const check = async (p: Page, width: number) => {
      await p.goto('/analytics?period=last_30&bucket=day');
      const box = p.locator('section[aria-labelledby="trend-title"] .chart-box');
      await expect.poll(() => box.getAttribute('data-x-labels'), { timeout: 20_000 }).not.toBeNull();
      const labels = JSON.parse((await box.getAttribute('data-x-labels'))!) as { text: string; x: number; width: number }[];
      // Fewer, shorter labels: "1 Dec", at least a few, never 30.
      expect(labels.length, `${width} px`).toBeGreaterThanOrEqual(3);
      expect(labels.length, `${width} px`).toBeLessThan(30);
      for (const l of labels) expect(l.text).toMatch(/^\d{1,2} [A-Z][a-z]{2,3}$/);
      for (let i = 1; i < labels.length; i++) {
        const [a, b] = [labels[i - 1]!, labels[i]!];
        expect(b.x - b.width / 2, `${a.text} and ${b.text} at ${width} px`).toBeGreaterThan(a.x + a.width / 2);
      }
      // The chart fits its box: nothing to scroll sideways.
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${width} px`).toBeLessThanOrEqual(0);
      return labels.length;
    };
    const wide = await check(page, 1280);
    const phone = await openPage(browser, server, { width: 390, height: 844 });
    try {
      await signIn(phone.page, EMAIL, PASSWORD);
      const narrow = await check(phone.page, 390);
      await screenshot(phone.page, 'analytics-30-days-phone');
      expect(await accessibilityProblems(phone.page)).toEqual([]);
      // A phone shows fewer labels than a desk.
      expect(narrow).toBeLessThan(wide);
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.context.close();
    }
    expect(errors).toEqual([]);
  });
});
