// Yesterday's history of two presses in a Berlin plant: the analytics page must show the
// availability the API computes (for a named or a custom period), an operator's reason must land
// on a stop (and in the Pareto), a stop splits in two, the timeline draws and explains the day and
// zooms, and the settings that shape the numbers (reasons, shifts, planned downtime) can be
// changed and taken back.

import type { Browser, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, formatHours, formatPercent } from '../src/format';
import { formatDateTime, localDate, parseLocalDateTime, periodSpan } from '../src/time';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi } from './harness';

const ZONE = 'Europe/Berlin';
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
  availability: number | null;
  stops: number;
  run_ms: number;
  down_ms: number;
  unknown_ms: number;
}

interface Analytics {
  assets: (Figures & { asset_id: number; asset_name: string })[];
  total: Figures;
}

const HOUR = 3_600_000;

/**
 * Shows the seeded day on the page's period picker, as From and To dates rather than the
 * "Yesterday" preset: a run that crosses midnight in Berlin still shows the day it seeded.
 */
async function showSeededDay() {
  await page.getByLabel('Period').selectOption('custom');
  await page.getByLabel('From', { exact: true }).fill(day);
  await page.getByLabel('To', { exact: true }).fill(day);
}

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto' });
  const { token } = await signUpByApi(server);
  api = userApi(server, token);
  await api.put('/api/v1/settings', { timezone: ZONE });
  const device = new Device(server, 'esp32-LINE1');
  await device.register(
    [
      { pin_number: 1, asset_name: 'Press 1' },
      { pin_number: 2, asset_name: 'Press 2' },
    ],
    'Line 1',
  );
  // Press 1: runs from 06:00, stops 09:00–09:30 (long), 12:00–12:04 (short), runs on.
  for (const [t, running] of [
    ['06:00', true],
    ['09:00', false],
    ['09:30', true],
    ['12:00', false],
    ['12:04', true],
  ] as const) {
    await device.state(1, running, at(t));
  }
  // Press 2: runs from 07:00, stops at 15:00 and stays stopped.
  await device.state(2, true, at('07:00'));
  await device.state(2, false, at('15:00'));
  for (const a of await api.get<{ id: number; name: string }[]>('/api/v1/assets')) ids[a.name] = a.id;
  ({ page, errors } = await openPage(browser, server));
  await signIn(page, 'ada@plant.example', 'correct horse battery');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('analytics, stops and timeline', () => {
  it('names yesterday for the Yesterday preset', async () => {
    await page.getByRole('link', { name: 'Analytics' }).click();
    // The day before today when the preset was chosen, or (had midnight passed in Berlin
    // meanwhile) when the page answered.
    const chosen = periodSpan('yesterday', Date.now(), ZONE).from;
    await page.getByLabel('Period').selectOption('yesterday');
    const shown = page.locator('.period-shown');
    await shown.waitFor();
    await expect
      .poll(async () => {
        const text = await shown.innerText();
        const now = periodSpan('yesterday', Date.now(), ZONE).from;
        return [chosen, now].some((from) => text.includes(`${formatDateTime(from, ZONE, 'en-GB')} to`));
      })
      .toBe(true);
  });

  it('shows the availability the API computes, per machine and in total', async () => {
    await page.getByRole('link', { name: 'Analytics' }).click();
    await showSeededDay();
    await page.locator('#asset-figures tbody tr').nth(1).waitFor();
    const expected = await api.get<Analytics>(`/api/v1/analytics?from=${yesterday.from}&to=${yesterday.to}`);
    const press1 = expected.assets.find((a) => a.asset_name === 'Press 1')!;
    // Run 3 h + 2.5 h + 11 h 56 min against 34 min down: not a round number, so a wrong window shows.
    expect(press1.availability).toBeGreaterThan(0.9);
    expect(press1.availability).toBeLessThan(1);
    // The page shows what it fetched for the period it names (wait out today's figures).
    await expect.poll(() => page.locator('.period-shown').innerText()).toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));
    for (const a of expected.assets) {
      const row = page.locator(`#asset-figures tbody tr[data-asset-id="${a.asset_id}"]`);
      await expect(row.locator('td[data-col="availability"]').innerText()).resolves.toBe(formatPercent(a.availability));
      await expect(row.locator('td[data-col="stops"]').innerText()).resolves.toBe(String(a.stops));
    }
    await expect(page.locator('#asset-figures tfoot td[data-col="availability"]').innerText()).resolves.toBe(
      formatPercent(expected.total.availability),
    );
    // The hour buckets make a trend; the charts are drawn.
    await page.locator('.chart canvas').first().waitFor();
    await screenshot(page, 'analytics');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('shows the figures of a custom period, the same as the API gives for that window', async () => {
    // The day before yesterday (no events: unknown) and yesterday, as dates a person picks.
    const before = localDate(at('12:00') - 24 * HOUR, ZONE);
    const custom = periodSpan('custom', Date.now(), ZONE, { from: before, to: day });
    await page.getByLabel('Period').selectOption('custom');
    await page.getByLabel('From', { exact: true }).fill(before);
    await page.getByLabel('To', { exact: true }).fill(day);
    const shown = page.locator('.period-shown');
    await expect
      .poll(() => shown.innerText())
      .toContain(`${formatDateTime(custom.from, ZONE, 'en-GB')} to ${formatDateTime(custom.to, ZONE, 'en-GB')}`);
    const expected = await api.get<Analytics>(`/api/v1/analytics?from=${custom.from}&to=${custom.to}`);
    // Two days: the first one all unknown, so a page that showed yesterday alone would differ.
    expect(expected.assets.find((a) => a.asset_name === 'Press 1')!.unknown_ms).toBeGreaterThan(24 * HOUR);
    const figures = async () => {
      for (const a of expected.assets) {
        const row = page.locator(`#asset-figures tbody tr[data-asset-id="${a.asset_id}"]`);
        const cell = (col: string) => row.locator(`td[data-col="${col}"]`).innerText();
        await expect(cell('availability')).resolves.toBe(formatPercent(a.availability));
        await expect(cell('run_ms')).resolves.toBe(formatHours(a.run_ms));
        await expect(cell('down_ms')).resolves.toBe(formatHours(a.down_ms));
        await expect(cell('unknown_ms')).resolves.toBe(formatHours(a.unknown_ms));
        await expect(cell('stops')).resolves.toBe(String(a.stops));
      }
      const total = (col: string) => page.locator(`#asset-figures tfoot td[data-col="${col}"]`).innerText();
      await expect(total('availability')).resolves.toBe(formatPercent(expected.total.availability));
      await expect(total('unknown_ms')).resolves.toBe(formatHours(expected.total.unknown_ms));
    };
    await figures();
    await screenshot(page, 'analytics-custom');
    expect(await accessibilityProblems(page)).toEqual([]);

    // The period lives in the address: a reload (or a shared link) shows the same figures.
    await page.reload();
    await expect(page.getByLabel('From', { exact: true }).inputValue()).resolves.toBe(before);
    await expect.poll(() => shown.innerText()).toContain(formatDateTime(custom.from, ZONE, 'en-GB'));
    await figures();

    // An end before the start is no period: the page says so and shows no stale figures.
    await page.getByLabel('From', { exact: true }).fill(day);
    await page.getByLabel('To', { exact: true }).fill(before);
    await page.getByRole('alert').filter({ hasText: 'Choose a start date and an end date on or after it.' }).waitFor();
    await expect(page.locator('#asset-figures').count()).resolves.toBe(0);

    // Back to the seeded day alone for what follows.
    await showSeededDay();
    await expect.poll(() => shown.innerText()).toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));
  });

  it('sorts the table by a column, both ways, from the keyboard', async () => {
    const names = () => page.locator('#asset-figures tbody th').allInnerTexts();
    const header = page.getByRole('button', { name: /^Availability/ });
    await header.focus();
    await page.keyboard.press('Enter');
    // Numbers sort the biggest first: Press 1 (~98 %) above Press 2 (8 h running of a 17 h day).
    await expect(names()).resolves.toEqual(['Press 1', 'Press 2']);
    await expect(page.locator('th[aria-sort="descending"]').innerText()).resolves.toMatch(/Availability/);
    await page.keyboard.press('Enter');
    await expect(names()).resolves.toEqual(['Press 2', 'Press 1']);
  });

  it('downloads the figures as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.split('\r\n')[0]).toContain('availability');
    expect(csv).toContain('Press 1');
    expect(download.suggestedFilename()).toBe(`assetlog-analytics-${day}.csv`);
  });

  it('lets an admin add a reason and give it to a stop', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Category').fill('Material');
    await page.getByLabel('Reason', { exact: true }).fill('Waiting for material');
    await page.getByRole('button', { name: 'Add reason' }).click();
    await page.locator('#reasons td', { hasText: 'Waiting for material' }).waitFor();
    await screenshot(page, 'settings');
    expect(await accessibilityProblems(page)).toEqual([]);

    await page.getByRole('link', { name: 'Stops' }).click();
    await showSeededDay();
    const label = `Press 1, ${formatDateTime(at('09:00'), ZONE, 'en-GB')}`;
    await page.getByLabel(`Reason for the stop of ${label}`).selectOption({ label: 'Material: Waiting for material' });
    await page.getByLabel(`Comment on the stop of ${label}`).fill('coil late from stores');
    await page.getByRole('button', { name: `Save the stop of ${label}` }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await screenshot(page, 'stops');

    // The filters: stops still without a reason; long stops only.
    const row = (hhmm: string) => page.locator('#stops tbody tr', { hasText: `Press 1` }).filter({ hasText: `, ${hhmm}` });
    await page.getByLabel('Without a reason only').check();
    await expect.poll(() => row('09:00').count()).toBe(0);
    await expect(row('12:00').count()).resolves.toBe(1);
    await page.getByLabel('Without a reason only').uncheck();
    await page.getByLabel('Long stops only').check();
    await expect.poll(() => row('12:00').count()).toBe(0);
    await expect(row('09:00').count()).resolves.toBe(1);
    await page.getByLabel('Long stops only').uncheck();
    expect(await accessibilityProblems(page)).toEqual([]);

    const stops = await api.get<{ start: number; reason_id: number | null; comment: string }[]>(
      `/api/v1/stops?from=${yesterday.from}&to=${yesterday.to}&asset_id=${ids['Press 1']}`,
    );
    const stop = stops.find((s) => s.start === at('09:00'))!;
    expect(stop.reason_id).not.toBeNull();
    expect(stop.comment).toBe('coil late from stores');

    // It stays after a reload, and the Pareto counts its half hour.
    await page.reload();
    await expect(page.getByLabel(`Comment on the stop of ${label}`).inputValue()).resolves.toBe('coil late from stores');
    await page.getByRole('link', { name: 'Analytics' }).click();
    await showSeededDay();
    await expect.poll(() => page.locator('.period-shown').innerText()).toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));
    const pareto = page.locator('#pareto-table tr', { hasText: 'Waiting for material' });
    await expect(pareto.locator('td').nth(1).innerText()).resolves.toBe('30 min');
  });

  it('splits a stop where its cause changed', async () => {
    await page.getByRole('link', { name: 'Stops' }).click();
    await showSeededDay();
    await page.getByLabel('Machine').selectOption({ label: 'Press 1' });
    const rows = page.locator('#stops tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByRole('button', { name: /^Split the stop of Press 1, .* 09:00$/ }).click();
    // The dialog proposes the middle of the stop.
    await expect(page.getByLabel('Split at date').inputValue()).resolves.toBe(day);
    await expect(page.getByLabel('Split at time').inputValue()).resolves.toBe('09:15');
    await page.getByRole('dialog').getByRole('button', { name: 'Split' }).click();
    await page.locator('#stops tbody tr', { hasText: 'continued' }).waitFor();
    await expect.poll(() => rows.count()).toBe(3);
    const parts = await api.get<{ start: number }[]>(`/api/v1/stops?from=${yesterday.from}&to=${yesterday.to}&asset_id=${ids['Press 1']}`);
    expect(parts.map((p) => p.start)).toContain(at('09:15'));
  });

  it('draws the day as a Gantt and explains a span on hover', async () => {
    await page.getByRole('link', { name: 'Timeline' }).click();
    await page.getByLabel('Day', { exact: true }).fill(day);
    await page.locator('.chart .u-over').waitFor();
    // The list beside the chart has the same spans.
    await page.getByText('Show as a list').click();
    const stopped = page.locator('#timeline-list tr', { hasText: 'Stopped' }).filter({ hasText: '09:00:00' });
    await expect(stopped.innerText()).resolves.toContain('30 min 00 s');
    // Hover Press 1 at 09:10: its stop, with the reason given above.
    const box = (await page.locator('.chart .u-over').boundingBox())!;
    const x = box.x + (box.width * (at('09:10') - yesterday.from)) / (yesterday.to - yesterday.from);
    await page.mouse.move(x, box.y + box.height / 4);
    const tip = page.locator('#gantt-tip');
    await tip.waitFor({ state: 'visible' });
    await expect(tip.innerText()).resolves.toMatch(/Press 1: Stopped[\s\S]*Waiting for material/);
    await screenshot(page, 'timeline');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('zooms the timeline with the wheel about the pointer, pans, and does both from the keyboard', async () => {
    const range = page.locator('#gantt-range');
    const shown = async () => ({ from: Number(await range.getAttribute('data-from')), to: Number(await range.getAttribute('data-to')) });
    const width = async () => {
      const s = await shown();
      return Math.round(s.to - s.from);
    };
    const dayWidth = yesterday.to - yesterday.from;
    await expect(shown()).resolves.toEqual(yesterday);
    await expect(range.innerText()).resolves.toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));

    // The wheel over Press 1 at 09:10: 300 px up zooms in by half, and 09:10 stays under the pointer.
    const box = (await page.locator('.chart .u-over').boundingBox())!;
    const x = box.x + (box.width * (at('09:10') - yesterday.from)) / dayWidth;
    await page.mouse.move(x, box.y + box.height / 4);
    await page.mouse.wheel(0, -300);
    await expect.poll(width).toBe(dayWidth / 2);
    const zoomed = await shown();
    const place = (t: number, s: { from: number; to: number }) => (t - s.from) / (s.to - s.from);
    expect(Math.abs(place(at('09:10'), zoomed) - place(at('09:10'), yesterday))).toBeLessThan(0.01);
    // The axis and the words beside the buttons say what is shown now.
    await expect(range.innerText()).resolves.toContain(formatDateTime(zoomed.from, ZONE, 'en-GB'));
    // Half the day: 12 h, or 11 h 30 min / 12 h 30 min when yesterday was a day of a change of clocks.
    await expect(range.innerText()).resolves.toContain(`(${formatDuration(dayWidth / 2)})`);
    await screenshot(page, 'timeline-zoomed');

    // Shift + wheel pans later, keeping the width.
    await page.keyboard.down('Shift');
    await page.mouse.wheel(0, 200);
    await page.keyboard.up('Shift');
    await expect.poll(async () => (await shown()).from).toBeGreaterThan(zoomed.from);
    await expect(width()).resolves.toBe(dayWidth / 2);

    // From the keyboard: Zoom in halves the view about its middle, Earlier moves it back a quarter.
    const panned = await shown();
    await page.getByRole('button', { name: 'Zoom in' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(width).toBe(dayWidth / 4);
    const inner = await shown();
    expect(Math.abs((inner.from + inner.to) / 2 - (panned.from + panned.to) / 2)).toBeLessThan(1);
    await page.getByRole('button', { name: '← Earlier' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(async () => Math.round((await shown()).from)).toBe(Math.round(inner.from - dayWidth / 16));
    // Show all goes back to the whole day.
    await page.getByRole('button', { name: 'Show all' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(shown).toEqual(yesterday);
    expect(errors).toEqual([]);
  });

  it('lets an admin rename a reason and delete it; its stops count as unassigned again', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Edit reason Waiting for material' }).click();
    // Editing starts in the first field; Escape leaves the reason as it was.
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Category of reason Waiting for material');
    await page.getByLabel('Name of reason Waiting for material').fill('Something else');
    await page.keyboard.press('Escape');
    await page.locator('#reasons td', { hasText: /^Waiting for material$/ }).waitFor();

    await page.getByRole('button', { name: 'Edit reason Waiting for material' }).click();
    await page.getByLabel('Name of reason Waiting for material').fill('Waiting for coil');
    await screenshot(page, 'settings-reason-edit');
    await page.getByRole('button', { name: 'Save reason Waiting for material' }).click();
    await page.locator('#reasons td', { hasText: /^Waiting for coil$/ }).waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Edit reason Waiting for coil');
    await expect(api.get('/api/v1/reasons')).resolves.toMatchObject([{ category: 'Material', name: 'Waiting for coil' }]);
    expect(await accessibilityProblems(page)).toEqual([]);

    // The stop that carries it shows the new name, and so does the Pareto.
    const label = `Press 1, ${formatDateTime(at('09:00'), ZONE, 'en-GB')}`;
    const reason = page.getByLabel(`Reason for the stop of ${label}`);
    await page.getByRole('link', { name: 'Stops' }).click();
    await showSeededDay();
    await expect.poll(() => reason.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.text)).toBe('Material: Waiting for coil');
    await page.getByRole('link', { name: 'Analytics' }).click();
    await showSeededDay();
    const pareto = page.locator('#pareto-table');
    await pareto.locator('td', { hasText: /^Waiting for coil$/ }).waitFor();
    await expect(pareto.innerText()).resolves.not.toContain('Waiting for material');

    // Deleting asks first; then the stop has no reason and the Pareto forgets it.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Delete reason Waiting for coil' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the reason “Waiting for coil”?' });
    await dialog.getByText('Stops that carry it count as unassigned again.').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect(page.locator('#reasons tbody tr').count()).resolves.toBe(1);
    await page.getByRole('button', { name: 'Delete reason Waiting for coil' }).click();
    await dialog.getByRole('button', { name: 'Delete reason' }).click();
    await page.getByText('No reasons yet.').waitFor();
    await screenshot(page, 'settings-reason-deleted');
    await expect(api.get('/api/v1/reasons')).resolves.toEqual([]);
    const stops = await api.get<{ reason_id: number | null }[]>(`/api/v1/stops?from=${yesterday.from}&to=${yesterday.to}`);
    expect(stops.length).toBeGreaterThan(0);
    expect(stops.every((s) => s.reason_id === null)).toBe(true);

    await page.getByRole('link', { name: 'Stops' }).click();
    await showSeededDay();
    await page.getByLabel('Without a reason only').check();
    await expect.poll(() => reason.inputValue()).toBe('');
    await page.getByLabel('Without a reason only').uncheck();
    await page.getByRole('link', { name: 'Analytics' }).click();
    await showSeededDay();
    await expect.poll(() => page.locator('.period-shown').innerText()).toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));
    await expect(pareto.innerText()).resolves.not.toContain('Waiting for coil');
    expect(errors).toEqual([]);
  });

  it('takes the plant settings that shape the numbers, and the numbers follow', async () => {
    const dayBefore = localDate(Date.now(), ZONE);
    await page.getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByLabel('Time zone').inputValue()).resolves.toBe(ZONE);
    await page.getByLabel('Short-stop threshold (seconds)').fill('120');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).first().waitFor();
    await expect(api.get('/api/v1/settings')).resolves.toEqual({
      timezone: ZONE,
      short_stop_threshold_s: 120,
      // The form keeps history forever unless a number of days is chosen.
      retention_days: null,
      target_availability: null,
    });

    // An early shift every day, with a break.
    await page.getByRole('button', { name: 'Add shift' }).click();
    const shift = page.getByRole('group', { name: 'Shift 1' });
    await shift.getByLabel('Name', { exact: true }).fill('Early');
    await shift.getByLabel('Starts', { exact: true }).fill('06:00');
    await shift.getByLabel('Ends', { exact: true }).fill('14:00');
    for (const d of ['Sat', 'Sun']) await shift.getByLabel(d).check();
    await shift.getByRole('button', { name: 'Add break' }).click();
    await shift.getByLabel('Break from').fill('10:00');
    await shift.getByLabel('to', { exact: true }).fill('10:15');
    // From yesterday on (the default is today: the days before keep their calendar). Today as
    // the form worked it out when it was drawn, on either side of a Berlin midnight meanwhile.
    const shown = await page.getByLabel('Applies from').inputValue();
    expect([dayBefore, localDate(Date.now(), ZONE)]).toContain(shown);
    await page.getByLabel('Applies from').fill(day);
    await page.getByRole('button', { name: 'Save shifts' }).click();
    await page.locator('#shifts-title ~ .row [role="status"]').waitFor();
    await expect(api.get('/api/v1/shifts')).resolves.toEqual([
      { name: 'Early', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '06:00', end: '14:00', breaks: [{ start: '10:00', end: '10:15' }] },
    ]);
    // Times are typed and shown in 24 h whatever the browser's locale; a further shift starts
    // where the last ends instead of on top of it (it is not saved).
    await page.getByRole('button', { name: 'Add shift' }).click();
    const late = page.getByRole('group', { name: 'Shift 2' });
    await expect(late.getByLabel('Starts', { exact: true }).inputValue()).resolves.toBe('14:00');
    await expect(late.getByLabel('Ends', { exact: true }).inputValue()).resolves.toBe('22:00');
    await expect(late.getByLabel('Starts', { exact: true }).getAttribute('type')).resolves.toBeNull();
    await late.getByRole('button', { name: 'Remove shift 2' }).click();

    // Press 2 had a planned die change 12:00–13:00 yesterday.
    const downtime = page.getByRole('form', { name: 'Add planned downtime' });
    await downtime.getByLabel('Machine').selectOption({ label: 'Press 2' });
    await downtime.getByLabel('From date').fill(day);
    await downtime.getByLabel('From time').fill('12:00');
    await downtime.getByLabel('To date').fill(day);
    await downtime.getByLabel('To time').fill('13:00');
    await downtime.getByLabel('Note').fill('Die change');
    await downtime.getByRole('button', { name: 'Add planned downtime' }).click();
    await page.locator('td', { hasText: 'Die change' }).waitFor();
    const planned = await api.get<{ asset_id: number; from: number; to: number }[]>('/api/v1/planned-downtime');
    expect(planned).toMatchObject([{ asset_id: ids['Press 2'], from: at('12:00'), to: at('13:00') }]);
    await screenshot(page, 'settings-shifts');
    expect(await accessibilityProblems(page)).toEqual([]);

    // Yesterday's figures now count only the early shift: the page still says what the API says.
    await page.getByRole('link', { name: 'Analytics' }).click();
    await showSeededDay();
    await page.getByLabel('Bucket').selectOption('shift');
    await expect.poll(() => page.locator('.period-shown').innerText()).toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));
    const expected = await api.get<Analytics>(`/api/v1/analytics?from=${yesterday.from}&to=${yesterday.to}&bucket=shift`);
    for (const a of expected.assets) {
      const cell = page.locator(`#asset-figures tbody tr[data-asset-id="${a.asset_id}"] td[data-col="availability"]`);
      await expect.poll(() => cell.innerText()).toBe(formatPercent(a.availability));
    }
    // Press 1's 4-minute stop is long at a 120 s threshold.
    await expect(page.locator(`#asset-figures tbody tr[data-asset-id="${ids['Press 1']}"] td[data-col="long_stops"]`).innerText()).resolves.toBe('2');

    // The timeline shows just the shift when asked.
    await page.getByRole('link', { name: 'Timeline' }).click();
    await page.getByLabel('Day', { exact: true }).fill(day);
    await page.getByRole('combobox', { name: /^Show/ }).selectOption('Early');
    await page.getByText('Show as a list').click();
    await expect.poll(() => page.locator('#timeline-list tbody tr').first().innerText()).toContain('06:00:00');
    await expect(page.locator('#timeline-list tbody tr').last().innerText()).resolves.toContain('14:00:00');
    expect(errors).toEqual([]);
  });

  it('draws the timeline in the figures\' terms: states inside the shift, the rest not scheduled, planned downtime apart', async () => {
    await page.getByRole('link', { name: 'Timeline' }).click();
    await page.getByLabel('Day', { exact: true }).fill(day);
    await page.getByRole('combobox', { name: /^Show/ }).selectOption('');
    await page.getByText('Show as a list').click();
    const rows = page.locator('#timeline-list tbody tr');
    await expect.poll(async () => (await rows.first().getAttribute('data-start')) === String(yesterday.from)).toBe(true);
    const spans = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({
        machine: tr.querySelector('td')!.textContent!,
        state: tr.getAttribute('data-state')!,
        ms: Number(tr.getAttribute('data-end')) - Number(tr.getAttribute('data-start')),
      })),
    );
    const expected = await api.get<{ assets: (Figures & { asset_name: string; unplanned_ms: number })[] }>(
      `/api/v1/analytics?from=${yesterday.from}&to=${yesterday.to}`,
    );
    const sum = (machine: string, states: string[]) => spans.filter((s) => s.machine === machine && states.includes(s.state)).reduce((n, s) => n + s.ms, 0);
    for (const a of expected.assets) {
      expect(sum(a.asset_name, ['RUNNING']), `${a.asset_name} running`).toBe(a.run_ms);
      expect(sum(a.asset_name, ['STOPPED']), `${a.asset_name} stopped`).toBe(a.down_ms);
      expect(sum(a.asset_name, ['UNKNOWN']), `${a.asset_name} unknown`).toBe(a.unknown_ms);
      expect(sum(a.asset_name, ['UNSCHEDULED', 'DOWNTIME']), `${a.asset_name} not planned`).toBe(a.unplanned_ms);
    }
    // The night is not scheduled (not red), and Press 2's die change is planned downtime.
    expect(spans.find((s) => s.machine === 'Press 2' && s.state === 'DOWNTIME')?.ms).toBe(HOUR);
    expect(spans.filter((s) => s.state === 'UNSCHEDULED').length).toBeGreaterThan(0);
    await expect(page.locator('.legend').innerText()).resolves.toMatch(/Planned downtime[\s\S]*Not scheduled/);
    await screenshot(page, 'timeline-planned');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('applies a new calendar from today on, leaving yesterday\'s figures as they were', async () => {
    const before = await api.get<Analytics>(`/api/v1/analytics?from=${yesterday.from}&to=${yesterday.to}`);
    const dayBefore = localDate(Date.now(), ZONE);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Add shift' }).click();
    const night = page.getByRole('group', { name: 'Shift 2' });
    await night.getByLabel('Name', { exact: true }).fill('Night');
    await night.getByLabel('Starts', { exact: true }).fill('22:00');
    await night.getByLabel('Ends', { exact: true }).fill('06:00');
    // Left at today (read from the form, which worked it out when it was drawn).
    const today = await page.getByLabel('Applies from').inputValue();
    expect([dayBefore, localDate(Date.now(), ZONE)]).toContain(today);
    await page.getByRole('button', { name: 'Save shifts' }).click();
    const history = page.locator('#calendar-history li');
    await expect.poll(() => history.count()).toBe(3);
    await expect(history.last().innerText()).resolves.toContain(`from ${today}`);
    await expect(history.last().innerText()).resolves.toContain('Night 22:00–06:00');
    await expect(api.get(`/api/v1/analytics?from=${yesterday.from}&to=${yesterday.to}`)).resolves.toEqual(before);
    // The analytics page shows the same figures for yesterday as before the change.
    await page.getByRole('link', { name: 'Analytics' }).click();
    await showSeededDay();
    await page.getByLabel('Bucket').selectOption('day');
    await expect.poll(() => page.locator('.period-shown').innerText()).toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));
    for (const a of before.assets) {
      const cell = page.locator(`#asset-figures tbody tr[data-asset-id="${a.asset_id}"] td[data-col="availability"]`);
      await expect.poll(() => cell.innerText()).toBe(formatPercent(a.availability));
    }
    // Put back yesterday's calendar for the tests after this one.
    await api.put(`/api/v1/shifts?from=${localDate(Date.now(), ZONE)}`, await api.get(`/api/v1/shifts?on=${day}`));
    expect(errors).toEqual([]);
  });

  it('removes planned downtime after asking, and the run time comes back', async () => {
    const press2 = async () =>
      (await api.get<Analytics>(`/api/v1/analytics?from=${yesterday.from}&to=${yesterday.to}&bucket=shift`)).assets.find(
        (a) => a.asset_id === ids['Press 2'],
      )!;
    const run = page.locator(`#asset-figures tbody tr[data-asset-id="${ids['Press 2']}"] td[data-col="run_ms"]`);
    const showYesterday = async () => {
      await page.getByRole('link', { name: 'Analytics' }).click();
      await showSeededDay();
      await page.getByLabel('Bucket').selectOption('shift');
      await expect.poll(() => page.locator('.period-shown').innerText()).toContain(formatDateTime(yesterday.from, ZONE, 'en-GB'));
    };
    const withDowntime = await press2();
    await showYesterday();
    await expect.poll(() => run.innerText()).toBe(formatHours(withDowntime.run_ms));

    await page.getByRole('link', { name: 'Settings' }).click();
    const remove = page.getByRole('button', { name: `Remove planned downtime from ${formatDateTime(at('12:00'), ZONE, 'en-GB')}` });
    await remove.click();
    const dialog = page.getByRole('dialog', { name: 'Remove this planned downtime?' });
    await dialog.getByText('The time becomes planned production again').waitFor();
    await screenshot(page, 'settings-downtime-remove');
    await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
    await expect.poll(() => page.locator('td', { hasText: 'Die change' }).count()).toBe(0);
    await expect(remove.count()).resolves.toBe(0);
    await expect(api.get('/api/v1/planned-downtime')).resolves.toEqual([]);
    // It is gone after a reload too.
    await page.reload();
    await page.getByRole('heading', { name: 'Planned downtime' }).waitFor();
    await page.getByRole('form', { name: 'Add planned downtime' }).waitFor();
    await expect(page.locator('td', { hasText: 'Die change' }).count()).resolves.toBe(0);
    expect(await accessibilityProblems(page)).toEqual([]);

    // The die change hour (12:00–13:00, inside the early shift) is planned production again:
    // Press 2 ran through it, so an hour more of run time.
    const without = await press2();
    expect(without.run_ms - withDowntime.run_ms).toBe(HOUR);
    await showYesterday();
    await expect.poll(() => run.innerText()).toBe(formatHours(without.run_ms));
    expect(errors).toEqual([]);
  });
});
