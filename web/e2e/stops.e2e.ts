// The stops page as an operator uses it on yesterday's stops of three machines in a Berlin
// plant: Enter saves a row, several stops get one reason at once (each keeping its comment, the
// picks outliving a live re-read, failures named), the rows sort by duration and by start, the
// stops shown download as CSV, a viewer reads and sorts without the controls, and on a phone
// each stop is a card that fits the screen.

import type { Browser, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stop } from '../src/api';
import { formatDateTime, localDate, parseLocalDateTime, periodSpan } from '../src/time';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, sidewaysReach, signIn, signUpByApi, startServer, userApi } from './harness';

const ZONE = 'Europe/Berlin';
const PASSWORD = 'correct horse battery';
let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let admin: ReturnType<typeof userApi>;
let device: Device;
const yesterday = periodSpan('yesterday', Date.now(), ZONE);
const day = localDate(yesterday.from, ZONE);
const at = (hhmm: string) => parseLocalDateTime(`${day}T${hhmm}`, ZONE);
const reasons: Record<string, number> = {};
const CSV_HEADER = 'id,asset_id,start,end,duration_ms,ongoing,short,reason_id,comment';

/** How the page names a stop on its boxes and fields. */
const label = (machine: string, hhmm: string) => `${machine}, ${formatDateTime(at(hhmm), ZONE, 'en-GB')}`;
const rows = () => page.locator('#stops tbody tr');
const shownIds = () => rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-stop-id')));
const stopsByApi = () => admin.get<Stop[]>(`/api/v1/stops?from=${yesterday.from}&to=${yesterday.to}`);
const stopAt = async (hhmm: string) => (await stopsByApi()).find((s) => s.start === at(hhmm))!;
const stopsPage = `/stops?period=custom&from=${day}&to=${day}`;

/** The stops page on the seeded day, all five stops listed. */
async function showSeededDay(p: Page = page) {
  await p.goto(stopsPage);
  await expect.poll(() => p.locator('#stops tbody tr').count()).toBe(5);
}

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto' });
  const { token } = await signUpByApi(server);
  admin = userApi(server, token);
  await admin.put('/api/v1/settings', { timezone: ZONE });
  for (const [category, name] of [
    ['Material', 'Waiting for material'],
    ['Tooling', 'Tool change'],
  ]) {
    reasons[name!] = (await admin.post<{ id: number }>('/api/v1/reasons', { category, name })).id;
  }
  await admin.post('/api/v1/users', { email: 'otto@plant.example', password: PASSWORD, role: 'operator' });
  await admin.post('/api/v1/users', { email: 'val@plant.example', password: PASSWORD, role: 'viewer' });
  device = new Device(server, 'esp32-HALL3');
  await device.register(
    [
      { pin_number: 1, asset_name: 'Press 1' },
      { pin_number: 2, asset_name: 'Press 2' },
      { pin_number: 3, asset_name: 'Lathe' },
      { pin_number: 9, asset_name: 'Spare' },
    ],
    'Hall 3',
  );
  // Five stops of five different lengths; the threshold is 5 min, so two are short.
  // Press 1: 08:00–08:20 (20 min), 10:00–10:03 (3 min). Press 2: 09:00–10:00 (60 min),
  // 13:00–13:01:30 (1 min 30 s). Lathe: 11:00–11:45 (45 min).
  const history: [number, string, boolean][] = [
    [1, '06:00', true],
    [1, '08:00', false],
    [1, '08:20', true],
    [1, '10:00', false],
    [1, '10:03', true],
    [2, '07:00', true],
    [2, '09:00', false],
    [2, '10:00', true],
    [2, '13:00', false],
    [2, '13:01:30', true],
    [3, '06:30', true],
    [3, '11:00', false],
    [3, '11:45', true],
  ];
  for (const [pin, hhmm, running] of history) await device.state(pin, running, at(hhmm));
  ({ page, errors } = await openPage(browser, server));
  await signIn(page, 'otto@plant.example', PASSWORD);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the stops page', () => {
  it('lists the stops newest first and sorts them by duration and by start, both ways', async () => {
    await showSeededDay();
    const listed = await stopsByApi();
    expect(listed.map((s) => s.duration_ms / 60_000)).toEqual([1.5, 45, 3, 60, 20]);
    const newest = listed.map((s) => s.id);
    const longest = [...listed].sort((a, b) => b.duration_ms - a.duration_ms).map((s) => s.id);
    const sortOf = (column: string) => page.locator('#stops thead th', { has: page.getByRole('button', { name: column, exact: true }) }).getAttribute('aria-sort');
    await expect(shownIds()).resolves.toEqual(newest);
    await expect(sortOf('Start')).resolves.toBe('descending');
    await expect(sortOf('Duration')).resolves.toBe('none');

    // From the keyboard, as the analytics table: longest first, then shortest first.
    await page.getByRole('button', { name: 'Duration', exact: true }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(shownIds).toEqual(longest);
    await expect(sortOf('Duration')).resolves.toBe('descending');
    await expect(sortOf('Start')).resolves.toBe('none');
    await expect(page.locator('#stops caption').innerText()).resolves.toContain('longest first');
    await page.keyboard.press('Enter');
    await expect.poll(shownIds).toEqual([...longest].reverse());
    await expect(sortOf('Duration')).resolves.toBe('ascending');

    // By start: newest first again, then oldest first.
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(shownIds).toEqual(newest);
    await expect(sortOf('Start')).resolves.toBe('descending');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(shownIds).toEqual([...newest].reverse());
    await expect(sortOf('Start')).resolves.toBe('ascending');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect.poll(shownIds).toEqual(newest);
    expect(errors).toEqual([]);
  });

  it('saves a row with Enter in its comment, and with Enter on its reason', async () => {
    await showSeededDay();
    const comment = page.getByLabel(`Comment on the stop of ${label('Press 1', '08:00')}`);
    await comment.fill('coil late from stores');
    await comment.press('Enter');
    await rows().filter({ has: comment }).getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await expect.poll(async () => (await stopAt('08:00')).comment).toBe('coil late from stores');

    // Choosing a reason alone saves nothing; Enter on it does.
    const reason = page.getByLabel(`Reason for the stop of ${label('Press 2', '09:00')}`);
    await reason.selectOption({ label: 'Tooling: Tool change' });
    await expect(page.getByRole('button', { name: `Save the stop of ${label('Press 2', '09:00')}` }).isEnabled()).resolves.toBe(true);
    await expect((await stopAt('09:00')).reason_id).toBeNull();
    await reason.press('Enter');
    await expect.poll(async () => (await stopAt('09:00')).reason_id).toBe(reasons['Tool change']);
    await rows().filter({ has: reason }).getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('gives several stops one reason at once, each keeping its own comment', async () => {
    await showSeededDay();
    const bar = page.getByRole('form', { name: 'Give the selected stops a reason' });
    await expect(bar.count()).resolves.toBe(0);
    for (const [machine, hhmm] of [
      ['Press 1', '08:00'],
      ['Lathe', '11:00'],
      ['Press 2', '13:00'],
    ] as const) {
      await page.getByLabel(`Select the stop of ${label(machine, hhmm)}`).check();
    }
    const apply = bar.getByRole('button', { name: 'Apply to 3 stops' });
    // No reason chosen yet: nothing to apply.
    await expect(apply.isDisabled()).resolves.toBe(true);
    await bar.getByLabel('Reason for the selected stops').selectOption({ label: 'Material: Waiting for material' });
    await screenshot(page, 'stops-picked');
    expect(await accessibilityProblems(page)).toEqual([]);
    await apply.click();
    await page.getByRole('status').filter({ hasText: 'Reason given to 3 stops.' }).waitFor();
    // Focus goes to what the page says, not to the top of the page with the bar that had it.
    await expect(page.evaluate(() => document.activeElement?.textContent)).resolves.toBe('Reason given to 3 stops.');
    // The picks are cleared, and the bar goes with them.
    await expect(bar.count()).resolves.toBe(0);
    await expect(page.locator('#stops tbody input[type="checkbox"]:checked').count()).resolves.toBe(0);

    const byStart = new Map((await stopsByApi()).map((s) => [s.start, s]));
    const material = reasons['Waiting for material'];
    expect(byStart.get(at('08:00'))).toMatchObject({ reason_id: material, comment: 'coil late from stores' });
    expect(byStart.get(at('11:00'))).toMatchObject({ reason_id: material, comment: '' });
    expect(byStart.get(at('13:00'))).toMatchObject({ reason_id: material, comment: '' });
    // The stops not picked keep theirs.
    expect(byStart.get(at('09:00'))!.reason_id).toBe(reasons['Tool change']);
    expect(byStart.get(at('10:00'))!.reason_id).toBeNull();
    // Each row shows its new reason.
    const shownReason = (machine: string, hhmm: string) =>
      page.getByLabel(`Reason for the stop of ${label(machine, hhmm)}`).evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.text);
    await expect(shownReason('Lathe', '11:00')).resolves.toBe('Material: Waiting for material');
    await expect(shownReason('Press 2', '09:00')).resolves.toBe('Tooling: Tool change');
    expect(errors).toEqual([]);
  });

  it('selects all stops shown, and says in words which stops did not get the reason', async () => {
    await showSeededDay();
    const all = page.getByLabel('Select all shown stops');
    const bar = page.getByRole('form', { name: 'Give the selected stops a reason' });
    await all.check();
    await bar.getByRole('button', { name: 'Apply to 5 stops' }).waitFor();
    // Stops another filter hides are not given the reason.
    await page.getByLabel('Long stops only').check();
    await expect.poll(() => rows().count()).toBe(3);
    await bar.getByRole('button', { name: 'Apply to 3 stops' }).waitFor();
    await page.getByLabel('Long stops only').uncheck();
    await expect.poll(() => rows().count()).toBe(5);
    await page.getByLabel(`Select the stop of ${label('Press 1', '10:00')}`).uncheck();
    await bar.getByRole('button', { name: 'Apply to 4 stops' }).waitFor();
    await expect(all.evaluate((el) => (el as HTMLInputElement).indeterminate)).resolves.toBe(true);

    // The Lathe's stop is gone from the server's point of view (as after a late backfill).
    const lathe = await stopAt('11:00');
    const path = `**/api/v1/stops/${encodeURIComponent(lathe.id)}`;
    await page.route(path, (route) =>
      route.request().method() === 'PUT'
        ? route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'not_found', message: 'stop not found' } }) })
        : route.fallback(),
    );
    await bar.getByLabel('Reason for the selected stops').selectOption({ label: 'Tooling: Tool change' });
    await bar.getByRole('button', { name: 'Apply to 4 stops' }).click();
    await page.getByRole('status').filter({ hasText: 'Reason given to 3 stops.' }).waitFor();
    const problem = page.getByRole('alert').filter({ hasText: 'The reason could not be given to 1 stop; it stays selected to try again:' });
    await problem.waitFor();
    await expect(problem.innerText()).resolves.toContain(`${label('Lathe', '11:00')}: stop not found`);
    await screenshot(page, 'stops-failed');
    expect(await accessibilityProblems(page)).toEqual([]);
    // The stop that failed stays picked, alone.
    await expect(page.getByLabel(`Select the stop of ${label('Lathe', '11:00')}`).isChecked()).resolves.toBe(true);
    await bar.getByRole('button', { name: 'Apply to 1 stop' }).waitFor();
    const byStart = new Map((await stopsByApi()).map((s) => [s.start, s]));
    for (const hhmm of ['08:00', '09:00', '13:00']) expect(byStart.get(at(hhmm))!.reason_id, hhmm).toBe(reasons['Tool change']);
    expect(byStart.get(at('08:00'))!.comment).toBe('coil late from stores');
    expect(byStart.get(at('11:00'))!.reason_id).toBe(reasons['Waiting for material']);
    expect(byStart.get(at('10:00'))!.reason_id).toBeNull();

    // Trying again once the server takes it.
    await page.unroute(path);
    await bar.getByRole('button', { name: 'Apply to 1 stop' }).click();
    await page.getByRole('status').filter({ hasText: 'Reason given to 1 stop.' }).waitFor();
    await expect(problem.count()).resolves.toBe(0);
    await expect.poll(async () => (await stopAt('11:00')).reason_id).toBe(reasons['Tool change']);
    expect(errors).toEqual([]);
  });

  it('keeps the picks when the list is read again after a live change', async () => {
    await showSeededDay();
    for (const [machine, hhmm] of [
      ['Press 1', '10:00'],
      ['Lathe', '11:00'],
    ] as const) {
      await page.getByLabel(`Select the stop of ${label(machine, hhmm)}`).check();
    }
    const bar = page.getByRole('form', { name: 'Give the selected stops a reason' });
    await bar.getByRole('button', { name: 'Apply to 2 stops' }).waitFor();
    // Someone else notes a stop that is not picked; a machine changes state, so the page reads
    // the list again and shows the note.
    const other = await stopAt('13:00');
    await admin.put(`/api/v1/stops/${encodeURIComponent(other.id)}`, { reason_id: other.reason_id, comment: 'checked by the night shift' });
    const spare = device.state(9, true, Date.now());
    const comment = page.getByLabel(`Comment on the stop of ${label('Press 2', '13:00')}`);
    await expect.poll(() => comment.inputValue(), { timeout: 15_000 }).toBe('checked by the night shift');
    await spare;
    await expect(page.getByLabel(`Select the stop of ${label('Press 1', '10:00')}`).isChecked()).resolves.toBe(true);
    await expect(page.getByLabel(`Select the stop of ${label('Lathe', '11:00')}`).isChecked()).resolves.toBe(true);
    await expect(page.locator('#stops tbody input[type="checkbox"]:checked').count()).resolves.toBe(2);
    await bar.getByRole('button', { name: 'Apply to 2 stops' }).waitFor();
    await bar.getByRole('button', { name: 'Clear selection' }).click();
    await expect(bar.count()).resolves.toBe(0);
    expect(errors).toEqual([]);
  });

  it('downloads the stops shown as CSV, with the filters of the page', async () => {
    await showSeededDay();
    const download = async () => {
      const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      const lines = readFileSync((await file.path())!, 'utf8').split('\r\n');
      expect(lines.pop()).toBe('');
      return { name: file.suggestedFilename(), lines };
    };
    const idOf = (line: string) => line.split(',')[0];
    const listed = await stopsByApi();
    const every = await download();
    expect(every.name).toBe(`assetlog-stops-${day}.csv`);
    expect(every.lines[0]).toBe(CSV_HEADER);
    expect(every.lines.slice(1).map(idOf).sort()).toEqual(listed.map((s) => s.id).sort());

    await page.getByLabel('Long stops only').check();
    await expect.poll(() => rows().count()).toBe(3);
    const long = await download();
    expect(long.lines[0]).toBe(CSV_HEADER);
    expect(long.lines.slice(1).map(idOf).sort()).toEqual(listed.filter((s) => !s.short).map((s) => s.id).sort());
    await page.getByLabel('Machine').selectOption({ label: 'Press 2' });
    await expect.poll(() => rows().count()).toBe(1);
    const press2 = await download();
    expect(press2.lines.slice(1).map(idOf)).toEqual([listed.find((s) => s.start === at('09:00'))!.id]);
    expect(errors).toEqual([]);
  });

  it('lets a viewer read and sort the stops, without boxes or fields to change them', async () => {
    const viewer = await openPage(browser, server);
    await signIn(viewer.page, 'val@plant.example', PASSWORD);
    await showSeededDay(viewer.page);
    const table = viewer.page.locator('#stops');
    await expect(table.locator('tbody select, tbody input, tbody button').count()).resolves.toBe(0);
    await expect(viewer.page.getByLabel('Select all shown stops').count()).resolves.toBe(0);
    await viewer.page.getByRole('button', { name: 'Duration', exact: true }).click();
    await expect
      .poll(() => viewer.page.locator('#stops tbody td.num').allInnerTexts())
      .toEqual(['1 h 00 min', '45 min 00 s', '20 min 00 s', '3 min 00 s', '1 min 30 s']);
    expect(await accessibilityProblems(viewer.page)).toEqual([]);
    expect(viewer.errors).toEqual([]);
    await viewer.context.close();
  });

  it('shows each stop as a card on a phone, with nothing wider than the screen', async () => {
    const phone = await openPage(browser, server, { width: 390, height: 844 });
    await signIn(phone.page, 'otto@plant.example', PASSWORD);
    await showSeededDay(phone.page);
    await phone.page.getByLabel(`Select the stop of ${label('Press 1', '08:00')}`).check();
    await phone.page.getByRole('form', { name: 'Give the selected stops a reason' }).waitFor();
    // Nothing scrolls sideways: not the page, and not a frame inside it (a table in a scrolling
    // frame would leave the page 390 px wide, with its reason fields out of sight).
    await expect(phone.page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(390);
    const reach = await sidewaysReach(phone.page);
    expect(reach.right, reach.what).toBeLessThanOrEqual(390);
    expect(reach.scrollingFrames).toEqual([]);
    await screenshot(phone.page, 'stops-phone');
    // A card: machine and duration on its first line, start – end and kind on the next, then
    // the reason and the comment across the card.
    const card = phone.page.locator('#stops tbody tr').filter({ has: phone.page.getByLabel(`Reason for the stop of ${label('Lathe', '11:00')}`) });
    const box = async (selector: string) => (await card.locator(selector).first().boundingBox())!;
    const frame = (await card.boundingBox())!;
    const machine = await box('.stop-machine');
    const duration = await box('.stop-duration');
    const start = await box('.stop-start');
    const end = await box('.stop-end');
    const kind = await box('.stop-kind');
    const reason = await box('select');
    const comment = await box('.stop-comment input');
    await expect(card.locator('.stop-machine').innerText()).resolves.toBe('Lathe');
    await expect(card.locator('.stop-duration').innerText()).resolves.toBe('45 min 00 s');
    const sameLine = (a: { y: number; height: number }, b: { y: number; height: number }) => Math.abs(a.y + a.height / 2 - (b.y + b.height / 2)) < 8;
    expect(sameLine(machine, duration)).toBe(true);
    expect(duration.x).toBeGreaterThan(machine.x);
    expect(start.y).toBeGreaterThan(machine.y + machine.height - 1);
    expect(sameLine(start, end) && sameLine(end, kind)).toBe(true);
    expect(end.x).toBeGreaterThan(start.x + start.width - 1);
    expect(reason.y).toBeGreaterThan(start.y + start.height - 1);
    expect(comment.y).toBeGreaterThan(reason.y + reason.height - 1);
    for (const field of [reason, comment]) {
      expect(field.x).toBeGreaterThanOrEqual(frame.x);
      expect(field.x + field.width).toBeLessThanOrEqual(frame.x + frame.width);
      expect(field.width).toBeGreaterThan(frame.width * 0.8);
    }
    expect(await accessibilityProblems(phone.page)).toEqual([]);
    expect(phone.errors).toEqual([]);
    await phone.context.close();
  });

  it('fits the analytics page on a phone too: the figures per machine a card each, nothing scrolling sideways', async () => {
    const phone = await openPage(browser, server, { width: 390, height: 844 });
    await signIn(phone.page, 'otto@plant.example', PASSWORD);
    await phone.page.goto(`/analytics?period=custom&from=${day}&to=${day}`);
    await phone.page.locator('#asset-figures tbody tr').nth(3).waitFor();
    // The Pareto's table, with every reason given above.
    await phone.page.locator('#pareto-table tbody tr').nth(1).waitFor();
    await expect(phone.page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(390);
    const reach = await sidewaysReach(phone.page);
    expect(reach.right, reach.what).toBeLessThanOrEqual(390);
    expect(reach.scrollingFrames).toEqual([]);
    // A card: the machine across the top, its figures under their labels below it.
    const card = phone.page.locator('#asset-figures tbody tr').first();
    const machine = (await card.locator('th').boundingBox())!;
    const stops = card.locator('td[data-col="stops"]');
    expect((await stops.boundingBox())!.y).toBeGreaterThan(machine.y + machine.height - 1);
    await expect(stops.evaluate((td) => getComputedStyle(td, '::before').content)).resolves.toBe('"Stops"');
    await screenshot(phone.page, 'analytics-phone');
    expect(await accessibilityProblems(phone.page)).toEqual([]);
    expect(phone.errors).toEqual([]);
    await phone.context.close();
  });
});
