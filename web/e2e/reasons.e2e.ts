// Reasons where the stop is seen, and times in 24 h, in a Berlin plant: an operator gives a stop
// its reason by clicking its bar on the timeline (or, from the keyboard, with the list's button),
// and a stopped machine's ongoing stop from its board tile; a viewer reads the reasons without
// those controls. In an en-US browser in New York the date-time fields still read 13:00 in the
// plant's zone, not 1:00 PM in the browser's; and an admin adds a planned downtime that repeats
// every Friday, which the figures of a past Friday then leave out of planned time.

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stop } from '../src/api';
import { formatDateTime, formatDay, localDate, localDaySpan, parseLocalDateTime, periodSpan, weekdayOf } from '../src/time';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi } from './harness';

const ZONE = 'Europe/Berlin';
const PASSWORD = 'correct horse battery';
const HOUR = 3_600_000;
let browser: Browser;
let server: Server;
let admin: ReturnType<typeof userApi>;
let device: Device;
const yesterday = periodSpan('yesterday', Date.now(), ZONE);
const day = localDate(yesterday.from, ZONE);
const at = (hhmm: string, on = day) => parseLocalDateTime(`${on}T${hhmm}`, ZONE);
const reasons: Record<string, number> = {};
const ids: Record<string, number> = {};

/** The last Friday before today in Berlin, and the Friday a week before it (the weekly downtime's first day). */
function pastFridays(): { friday: string; firstDay: string } {
  let t = localDaySpan(localDate(Date.now(), ZONE), ZONE).from - HOUR * 12;
  while (weekdayOf(localDate(t, ZONE)) !== 'fri') t -= HOUR * 24;
  return { friday: localDate(t, ZONE), firstDay: localDate(t - HOUR * 24 * 7, ZONE) };
}

const stopsOf = (asset: string, from = yesterday.from, to = yesterday.to) => admin.get<Stop[]>(`/api/v1/stops?from=${from}&to=${to}&asset_id=${ids[asset]}`);
const tile = (page: Page, name: string) => page.locator('li.tile', { hasText: name });

/** The timeline of the seeded day, its chart drawn. */
async function openTimeline(page: Page) {
  await page.goto(`/timeline?date=${day}`);
  await page.locator('.chart .u-over').waitFor();
  // Drawn from the answer (the rows' axis labels), not only the empty frame.
  await page.locator('#timeline-list tbody tr').first().waitFor({ state: 'attached' });
}

/** The point of the chart over `machine`'s row (0: the first) at the time `t`. */
async function chartPoint(page: Page, row: number, rows: number, t: number) {
  const box = (await page.locator('.chart .u-over').boundingBox())!;
  return {
    x: box.x + (box.width * (t - yesterday.from)) / (yesterday.to - yesterday.from),
    y: box.y + (box.height * (row + 0.5)) / rows,
  };
}

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto' });
  const { token } = await signUpByApi(server);
  admin = userApi(server, token);
  await admin.put('/api/v1/settings', { timezone: ZONE });
  for (const [category, name] of [
    ['Material', 'Jam'],
    ['Material', 'Waiting for material'],
    ['Tooling', 'Tool change'],
  ]) {
    reasons[name!] = (await admin.post<{ id: number }>('/api/v1/reasons', { category, name })).id;
  }
  await admin.post('/api/v1/users', { email: 'otto@plant.example', password: PASSWORD, role: 'operator' });
  await admin.post('/api/v1/users', { email: 'val@plant.example', password: PASSWORD, role: 'viewer' });
  device = new Device(server, 'esp32-HALL4');
  await device.register(
    [
      { pin_number: 1, asset_name: 'Press 1' },
      { pin_number: 2, asset_name: 'Press 2' },
    ],
    'Hall 4',
  );
  // Press 1 yesterday: runs from 06:00, stops 09:00–09:30 and 12:00–12:04, runs on.
  for (const [t, running] of [
    ['06:00', true],
    ['09:00', false],
    ['09:30', true],
    ['12:00', false],
    ['12:04', true],
  ] as const) {
    await device.state(1, running, at(t));
  }
  // Press 2: runs from yesterday 07:00 and stopped ten minutes ago: its stop goes on.
  await device.state(2, true, at('07:00'));
  await device.state(2, false, Date.now() - 10 * 60_000);
  for (const a of await admin.get<{ id: number; name: string }[]>('/api/v1/assets')) ids[a.name] = a.id;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('reasons from the timeline and the board', () => {
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    ({ page, errors } = await openPage(browser, server));
    await signIn(page, 'otto@plant.example', PASSWORD);
  });

  it('gives a stop its reason from its bar on the timeline', async () => {
    await openTimeline(page);
    // Press 1 (the first of two rows) at 09:10, inside its 09:00–09:30 stop.
    const { x, y } = await chartPoint(page, 0, 2, at('09:10'));
    await page.mouse.move(x, y);
    const tip = page.locator('#gantt-tip');
    await expect.poll(() => tip.innerText()).toMatch(/Press 1: Stopped[\s\S]*no reason yet[\s\S]*Click to give it a reason/);
    await page.mouse.click(x, y);
    const dialog = page.getByRole('dialog', { name: 'Reason for the stop of Press 1' });
    await dialog.waitFor();
    // It names the stop it is for, in 24 h in the plant's zone.
    await expect(dialog.innerText()).resolves.toContain(`${formatDay(at('09:00'), ZONE, 'en-GB')}, 09:00:00 – 09:30:00 (30 min 00 s)`);
    // The reasons are grouped by category.
    await expect(dialog.locator('optgroup').evaluateAll((gs) => gs.map((g) => g.getAttribute('label')))).resolves.toEqual(['Material', 'Tooling']);
    await dialog.getByLabel('Reason', { exact: true }).selectOption({ label: 'Waiting for material' });
    await dialog.getByLabel('Comment', { exact: true }).fill('coil late from stores');
    await screenshot(page, 'timeline-reason-dialog');
    expect(await accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden' });

    const stop = (await stopsOf('Press 1')).find((s) => s.start === at('09:00'))!;
    expect(stop).toMatchObject({ reason_id: reasons['Waiting for material'], comment: 'coil late from stores' });
    // The bar says so at once.
    await page.mouse.move(x, y + 1);
    await expect.poll(() => tip.innerText()).toMatch(/Material: Waiting for material \(coil late from stores\)/);
    expect(errors).toEqual([]);
  });

  it('gives a stop its reason from the keyboard, with the button in the list', async () => {
    await page.getByText('Show as a list').click();
    const button = page.getByRole('button', { name: `Reason for the stop of Press 1, ${formatDateTime(at('12:00'), ZONE, 'en-GB')}` });
    await button.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Reason for the stop of Press 1' });
    await dialog.waitFor();
    await expect(dialog.innerText()).resolves.toContain('12:04:00 (4 min 00 s)');
    await dialog.getByLabel('Reason', { exact: true }).selectOption({ label: 'Tool change' });
    await dialog.getByLabel('Comment', { exact: true }).fill('die swapped');
    // Enter in the comment saves.
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    const stop = (await stopsOf('Press 1')).find((s) => s.start === at('12:00'))!;
    expect(stop).toMatchObject({ reason_id: reasons['Tool change'], comment: 'die swapped' });
    const row = page.locator('#timeline-list tbody tr', { hasText: 'Stopped' }).filter({ hasText: '12:00:00' });
    await expect.poll(() => row.innerText()).toContain('Tooling: Tool change (die swapped)');
    await screenshot(page, 'timeline-reason-list');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("gives a stopped machine's ongoing stop its reason from its tile on the board", async () => {
    // Its logger is online (a silent one's machines show no signal, not stopped).
    await device.heartbeat();
    await page.goto('/');
    const press2 = tile(page, 'Press 2');
    await press2.and(page.locator('[data-state="STOPPED"]')).waitFor();
    // A running machine has no such button.
    await tile(page, 'Press 1').and(page.locator('[data-state="RUNNING"]')).waitFor();
    await expect(tile(page, 'Press 1').getByRole('button').count()).resolves.toBe(0);
    await press2.getByRole('button', { name: 'Reason for the stop of Press 2' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reason for the stop of Press 2' });
    await dialog.waitFor();
    await expect(dialog.innerText()).resolves.toContain('still going on');
    await dialog.getByLabel('Reason', { exact: true }).selectOption({ label: 'Jam' });
    await screenshot(page, 'board-reason-dialog');
    expect(await accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'hidden' });
    // The tile shows it, and the API has it on the ongoing stop.
    await expect.poll(() => press2.locator('.tile-reason').innerText()).toBe('Jam');
    const now = Date.now();
    const ongoing = (await stopsOf('Press 2', now - 86_400_000, now + 60_000)).find((s) => s.ongoing)!;
    expect(ongoing.reason_id).toBe(reasons['Jam']);
    await screenshot(page, 'board-reason-given');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('shows a viewer the reasons given, and neither control', async () => {
    const viewer = await openPage(browser, server);
    try {
      await device.heartbeat();
      await signIn(viewer.page, 'val@plant.example', PASSWORD);
      const press2 = tile(viewer.page, 'Press 2');
      await press2.and(viewer.page.locator('[data-state="STOPPED"]')).waitFor();
      await expect.poll(() => press2.locator('.tile-reason').innerText()).toBe('Jam');
      await expect(press2.getByRole('button').count()).resolves.toBe(0);
      await expect(viewer.page.getByRole('button', { name: /^Reason/ }).count()).resolves.toBe(0);

      await openTimeline(viewer.page);
      await viewer.page.getByText('Show as a list').click();
      const row = viewer.page.locator('#timeline-list tbody tr', { hasText: 'Stopped' }).filter({ hasText: '09:00:00' });
      await expect.poll(() => row.innerText()).toContain('Material: Waiting for material (coil late from stores)');
      await expect(viewer.page.locator('#timeline-list button').count()).resolves.toBe(0);
      // A bar's tooltip does not offer it, and the page has no reason dialog to open.
      const { x, y } = await chartPoint(viewer.page, 0, 2, at('09:10'));
      await viewer.page.mouse.move(x, y);
      const tip = viewer.page.locator('#gantt-tip');
      await expect.poll(() => tip.innerText()).toContain('Material: Waiting for material');
      await expect(tip.innerText()).resolves.not.toContain('Click');
      await expect(viewer.page.locator('dialog.reason-dialog').count()).resolves.toBe(0);
      expect(await accessibilityProblems(viewer.page)).toEqual([]);
      expect(viewer.errors).toEqual([]);
    } finally {
      await viewer.context.close();
    }
  });
});

describe('times in 24 h, and weekly planned downtime', () => {
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    // A browser that would say 1:00 PM, in a zone that is not the plant's.
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 860 }, locale: 'en-US', timezoneId: 'America/New_York' });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
    });
    await signIn(page, 'ada@plant.example', PASSWORD);
  });

  afterAll(async () => {
    await context?.close();
  });

  it('types planned downtime in 24 h in the plant zone, in an en-US browser', async () => {
    await page.goto('/settings');
    const form = page.getByRole('form', { name: 'Add planned downtime' });
    await form.getByLabel('Machine').selectOption({ label: 'Press 2' });
    await form.getByLabel('From date').fill(day);
    await form.getByLabel('From time').fill('13:00');
    await form.getByLabel('To date').fill(day);
    await form.getByLabel('To time').fill('14:00');
    await form.getByLabel('Note').fill('Trial run');
    // What was typed reads 13:00, not 1:00 PM: a text field, not the browser's time picker.
    await expect(form.getByLabel('From time').inputValue()).resolves.toBe('13:00');
    await expect(form.getByLabel('From time').getAttribute('type')).resolves.toBeNull();
    await expect(form.getByRole('group', { name: `From (${ZONE})` }).count()).resolves.toBe(1);
    await screenshot(page, 'downtime-24h-en-US');
    await form.getByRole('button', { name: 'Add planned downtime' }).click();
    const row = page.locator('#planned-downtime tbody tr', { hasText: 'Trial run' });
    await row.waitFor();
    await expect(row.innerText()).resolves.toContain('13:00–14:00');
    await expect(row.innerText()).resolves.not.toMatch(/[AP]M/);
    const planned = await admin.get<{ asset_id: number; from: number; to: number; note: string }[]>('/api/v1/planned-downtime');
    expect(planned.find((d) => d.note === 'Trial run')).toMatchObject({ asset_id: ids['Press 2'], from: at('13:00'), to: at('14:00') });
    expect(await accessibilityProblems(page)).toEqual([]);

    // The split dialog proposes the stop's middle in 24 h too.
    await page.goto(`/stops?period=custom&from=${day}&to=${day}&asset=${ids['Press 1']}`);
    await page.getByRole('button', { name: /^Split the stop of Press 1, .* 12:00/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Split this stop' });
    await expect(dialog.getByLabel('Split at date').inputValue()).resolves.toBe(day);
    await expect(dialog.getByLabel('Split at time').inputValue()).resolves.toBe('12:02');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(errors).toEqual([]);
  });

  it('adds a planned downtime every Friday, lists it, and the figures of a past Friday leave that hour out', async () => {
    const { friday, firstDay } = pastFridays();
    const figures = async () =>
      (await admin.get<{ assets: { unplanned_ms: number }[] }>(`/api/v1/analytics?from=${at('12:00', friday)}&to=${at('15:00', friday)}&asset_id=${ids['Press 1']}`))
        .assets[0]!.unplanned_ms;
    // Before: that Friday afternoon is all planned (no shifts).
    await expect(figures()).resolves.toBe(0);

    await page.goto('/settings');
    const form = page.getByRole('form', { name: 'Add planned downtime' });
    await form.getByLabel('Machine').selectOption({ label: 'Press 1' });
    await form.getByRole('radio', { name: 'Every week' }).check();
    await form.getByRole('group', { name: 'Days of the week' }).getByLabel('Fri').check();
    await form.getByLabel(/^Starts/).fill('13:00');
    await form.getByLabel('Ends', { exact: true }).fill('14:00');
    await form.getByLabel('First day (optional)').fill(firstDay);
    await form.getByLabel('Note').fill('Weekly cleaning');
    await screenshot(page, 'downtime-weekly-form');
    expect(await accessibilityProblems(page)).toEqual([]);
    await form.getByRole('button', { name: 'Add planned downtime' }).click();

    const first = new Intl.DateTimeFormat('en-US', { day: 'numeric', month: 'short', year: 'numeric', timeZone: ZONE }).format(at('00:00', firstDay));
    const row = page.locator('#planned-downtime tbody tr', { hasText: 'Weekly cleaning' });
    await row.waitFor();
    await expect(row.innerText()).resolves.toContain(`Every Fri 13:00–14:00 (from ${first})`);
    await screenshot(page, 'downtime-weekly-listed');

    const planned = await admin.get<{ asset_id: number; from: number; to: number | null; note: string; weekly: unknown }[]>('/api/v1/planned-downtime');
    expect(planned.find((d) => d.note === 'Weekly cleaning')).toMatchObject({
      asset_id: ids['Press 1'],
      from: at('00:00', firstDay),
      to: null,
      weekly: { days: ['fri'], start: '13:00', end: '14:00' },
    });
    // 13:00–14:00 of that Friday is not planned time now.
    await expect(figures()).resolves.toBe(HOUR);
    // It stays after a reload.
    await page.reload();
    await page.locator('#planned-downtime tbody tr', { hasText: 'Weekly cleaning' }).waitFor();
    expect(errors).toEqual([]);
  });
});
