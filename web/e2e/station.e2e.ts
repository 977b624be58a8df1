// The station on a tablet beside Line 1 of a Berlin plant: it shows the line's machines and
// their stops of the last hours that have no reason, one tap on a big reason button records the
// reason (the stops page and the Pareto then have it), Undo takes it back, a long stop that
// begins while the page is open prompts the operator without a reload, and a viewer sees the
// stops but no buttons.

import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stationTime } from '../src/station';
import { localDate } from '../src/time';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi } from './harness';

const ZONE = 'Europe/Berlin';
const TABLET = { width: 1024, height: 768 };
const PASSWORD = 'correct horse battery';
const MIN = 60_000;
const HOUR = 60 * MIN;

let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let api: ReturnType<typeof userApi>;
let device: Device;
const ids: Record<string, number> = {};
const reasons: Record<string, number> = {};
// The seeded history, relative to the start of the test run.
const T0 = Date.now();
const press1Long = T0 - 2 * HOUR; // 10 minutes, with a comment and no reason
const press1Short = T0 - HOUR; // 2 minutes
const press3Stop = T0 - 30 * MIN; // Line 2: not on Line 1's station

interface StopPart {
  id: string;
  asset_id: number;
  start: number;
  stop_start: number;
  ongoing: boolean;
  reason_id: number | null;
  comment: string;
}

/** A stop's time as the page names it (the tablet's locale is en-GB). */
const hhmm = (ms: number) => stationTime(ms, Date.now(), ZONE, 'en-GB');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const card = (name: string) => page.getByRole('region', { name, exact: true });
const why = (name: string, start: number) => page.getByRole('group', { name: `Why did ${name} stop at ${hhmm(start)}?` });

async function stopsOf(asset: string): Promise<StopPart[]> {
  return api.get<StopPart[]>(`/api/v1/stops?from=${T0 - 8 * HOUR}&to=${Date.now() + MIN}&asset_id=${ids[asset]}`);
}

async function partAt(asset: string, start: number): Promise<StopPart | undefined> {
  return (await stopsOf(asset)).find((s) => s.start === start);
}

async function expectTouchTargets(targets: Locator) {
  const n = await targets.count();
  expect(n).toBeGreaterThan(0);
  for (let i = 0; i < n; i++) {
    const box = (await targets.nth(i).boundingBox())!;
    const what = `${await targets.nth(i).innerText()}: ${Math.round(box.width)}×${Math.round(box.height)}`;
    expect(box.width >= 48 && box.height >= 48, what).toBe(true);
  }
}

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto' });
  const { token } = await signUpByApi(server);
  api = userApi(server, token);
  await api.put('/api/v1/settings', { timezone: ZONE });
  for (const [category, name] of [
    ['Material', 'Jam'],
    ['Material', 'Waiting for material'],
    ['Tooling', 'Tool change'],
  ] as const) {
    reasons[name] = (await api.post<{ id: number }>('/api/v1/reasons', { category, name })).id;
  }
  await api.post('/api/v1/users', { email: 'otto@plant.example', password: PASSWORD, role: 'operator' });
  await api.post('/api/v1/users', { email: 'vic@plant.example', password: PASSWORD, role: 'viewer' });

  device = new Device(server, 'esp32-STATION');
  await device.register(
    [
      { pin_number: 1, asset_name: 'Press 1' },
      { pin_number: 2, asset_name: 'Press 2' },
      { pin_number: 3, asset_name: 'Press 3' },
    ],
    'Hall A logger',
  );
  await device.batch([
    { pin: 1, running: true, ts: T0 - 3 * HOUR },
    { pin: 2, running: true, ts: T0 - 3 * HOUR },
    { pin: 3, running: true, ts: T0 - 3 * HOUR },
    { pin: 1, running: false, ts: press1Long },
    { pin: 1, running: true, ts: press1Long + 10 * MIN },
    { pin: 1, running: false, ts: press1Short },
    { pin: 1, running: true, ts: press1Short + 2 * MIN },
    { pin: 3, running: false, ts: press3Stop },
    { pin: 3, running: true, ts: press3Stop + 5 * MIN },
  ]);
  for (const a of await api.get<{ id: number; name: string }[]>('/api/v1/assets')) ids[a.name] = a.id;
  // Press 1 counts a stop as long from 10 s on: its next stop prompts soon after it begins.
  await api.put(`/api/v1/assets/${ids['Press 1']}`, { line: 'Line 1', short_stop_threshold_s: 10 });
  await api.put(`/api/v1/assets/${ids['Press 2']}`, { line: 'Line 1' });
  await api.put(`/api/v1/assets/${ids['Press 3']}`, { line: 'Line 2' });
  // Someone wrote a comment on the long stop earlier, without a reason.
  const long = (await partAt('Press 1', press1Long))!;
  await api.put(`/api/v1/stops/${long.id}`, { comment: 'coil late from stores' });

  ({ page, errors } = await openPage(browser, server, TABLET));
  await signIn(page, 'otto@plant.example', PASSWORD);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the station', () => {
  it('shows the machines of one line and their stops without a reason, the line kept in the address', async () => {
    await page.getByRole('link', { name: 'Station' }).click();
    await page.getByRole('heading', { name: 'Station', exact: true }).waitFor();
    await card('Press 3').waitFor();
    await page.getByRole('combobox', { name: /^Machines/ }).selectOption('Line 1');
    await page.getByRole('heading', { name: 'Station · Line 1' }).waitFor();
    expect(new URL(page.url()).searchParams.get('line')).toBe('Line 1');
    await expect.poll(() => card('Press 3').count()).toBe(0);
    await expect(page.getByTestId('station-summary').innerText()).resolves.toBe('2 stops need a reason. Machines running: 2 of 2.');
    // Press 1's two stops, the newest chosen; Press 2 has none.
    const stops = card('Press 1').getByRole('list', { name: 'Stops of Press 1 without a reason' }).getByRole('button');
    await expect(stops.allInnerTexts()).resolves.toEqual([
      `${hhmm(press1Short)}–${hhmm(press1Short + 2 * MIN)} · 2 min 00 s`,
      `${hhmm(press1Long)}–${hhmm(press1Long + 10 * MIN)} · 10 min 00 s`,
    ]);
    await expect(stops.first().getAttribute('aria-pressed')).resolves.toBe('true');
    await why('Press 1', press1Short).waitFor();
    await expect(card('Press 2').innerText()).resolves.toContain('No stop needs a reason.');
    // The reason tree, by category.
    const material = why('Press 1', press1Short).getByRole('group', { name: 'Material' });
    await expect(material.getByRole('button').allInnerTexts()).resolves.toEqual(['Jam', 'Waiting for material']);
    await expect(why('Press 1', press1Short).getByRole('group', { name: 'Tooling' }).getByRole('button').allInnerTexts()).resolves.toEqual(['Tool change']);

    // A bookmarked tablet opens on its line.
    await page.reload();
    await card('Press 1').waitFor();
    await expect(page.getByRole('combobox', { name: /^Machines/ }).inputValue()).resolves.toBe('Line 1');
    await expect(card('Press 3').count()).resolves.toBe(0);

    // Big enough for a gloved finger: the picker, the stops and every reason.
    await expectTouchTargets(page.locator('main select, main button'));
    await screenshot(page, 'station');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('records a reason with one tap, keeping the comment; the stops page and the Pareto have it', async () => {
    const long = (await partAt('Press 1', press1Long))!;
    await card('Press 1').getByRole('button', { name: new RegExp(`^${escape(hhmm(press1Long))}–`) }).click();
    await why('Press 1', press1Long).getByRole('button', { name: 'Jam', exact: true }).click();
    await card('Press 1').getByText(`Recorded for the stop at ${hhmm(press1Long)}: Jam.`).waitFor();
    await expect.poll(async () => (await partAt('Press 1', press1Long))?.reason_id).toBe(reasons['Jam']);
    expect((await partAt('Press 1', press1Long))!.comment).toBe('coil late from stores');
    await screenshot(page, 'station-recorded');

    // After the undo window the stop leaves the list; the card says it was given (the time as
    // the card writes it at each look: with its day once Berlin's midnight has passed).
    await expect
      .poll(async () => (await card('Press 1').innerText()).includes(`Recently given: ${hhmm(press1Long)} Jam`), { timeout: 15_000 })
      .toBe(true);
    await expect(card('Press 1').getByRole('button', { name: new RegExp(`^${escape(hhmm(press1Long))}–`) }).count()).resolves.toBe(0);
    await expect(page.getByTestId('station-summary').innerText()).resolves.toBe('1 stop needs a reason. Machines running: 2 of 2.');

    // The stops page shows it in that stop's row.
    const day = localDate(press1Long, ZONE);
    await page.goto(`/stops?period=custom&from=${day}&to=${day}`);
    const reason = page.locator(`#stops tr[data-stop-id="${long.id}"] td.stop-reason select`);
    await expect.poll(() => reason.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.text)).toBe('Material: Jam');

    // The Pareto counts its ten minutes under Jam.
    const analytics = await api.get<{ total: { downtime_by_reason: { reason_id: number | null; down_ms: number; stops: number }[] } }>(
      `/api/v1/analytics?from=${T0 - 3 * HOUR}&to=${Date.now()}`,
    );
    expect(analytics.total.downtime_by_reason.find((r) => r.reason_id === reasons['Jam'])).toMatchObject({ down_ms: 10 * MIN, stops: 1 });
    expect(errors).toEqual([]);
  });

  it('takes a reason back with Undo', async () => {
    await page.goto('/station?line=Line%201');
    await why('Press 1', press1Short).getByRole('button', { name: 'Tool change' }).click();
    await expect.poll(async () => (await partAt('Press 1', press1Short))?.reason_id).toBe(reasons['Tool change']);
    await card('Press 1').getByRole('button', { name: /^Undo Tool change/ }).click();
    await expect.poll(async () => (await partAt('Press 1', press1Short))?.reason_id).toBeNull();
    // The stop needs its reason again, and can get another.
    await why('Press 1', press1Short).waitFor();
    await expect(card('Press 1').getByRole('button', { name: /^Undo/ }).count()).resolves.toBe(0);
    await expect(page.getByTestId('station-summary').innerText()).resolves.toBe('1 stop needs a reason. Machines running: 2 of 2.');
    expect(errors).toEqual([]);
  });

  it('prompts for a long stop that begins while the page is open, without a reload', async () => {
    const prompt = page.locator('#station-prompt');
    await expect(prompt.getAttribute('aria-live')).resolves.toBe('assertive');
    await expect(prompt.innerText()).resolves.toBe('');
    await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));

    // Press 2 stopped six minutes ago (the logger reports late): past the plant's 5 minutes.
    const stopped = Date.now() - 6 * MIN;
    await device.batch([{ pin: 2, running: false, ts: stopped }]);
    await expect.poll(() => prompt.innerText(), { timeout: 15_000 }).toBe('Press 2 stopped 6 min ago: why?');
    await expect(card('Press 2').getAttribute('data-prompted')).resolves.toBe('true');
    await expect(card('Press 2').innerText()).resolves.toContain('Needs a reason');
    await why('Press 2', stopped).waitFor();
    await screenshot(page, 'station-prompt');
    expect(await accessibilityProblems(page)).toEqual([]);

    // Its reason ends the prompt.
    await why('Press 2', stopped).getByRole('button', { name: 'Waiting for material' }).click();
    await expect.poll(() => prompt.innerText()).toBe('');
    await expect(card('Press 2').getAttribute('data-prompted')).resolves.toBeNull();

    // Press 1 (10 s threshold) stops now: shown at once, prompted only when it reaches 10 s.
    const now = Date.now();
    await device.batch([{ pin: 1, running: false, ts: now }]);
    await why('Press 1', now).waitFor({ timeout: 15_000 });
    if (Date.now() - now < 9_000) await expect(prompt.innerText()).resolves.toBe('');
    await expect.poll(() => prompt.innerText(), { timeout: 20_000 }).toMatch(/^Press 1 stopped 1\d s ago: why\?$/);
    await expect(card('Press 1').getAttribute('data-prompted')).resolves.toBe('true');
    // The same page all along.
    await expect(page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).resolves.toBe(true);
    expect(errors).toEqual([]);
  });

  it('shows a viewer the stops and no buttons to give reasons', async () => {
    const viewer = await openPage(browser, server, TABLET);
    try {
      await signIn(viewer.page, 'vic@plant.example', PASSWORD);
      await viewer.page.goto('/station?line=Line%201');
      const press1 = viewer.page.getByRole('region', { name: 'Press 1', exact: true });
      await press1.getByRole('list', { name: 'Stops of Press 1 without a reason' }).getByText(`${hhmm(press1Short)}–`).waitFor();
      await viewer.page.getByText('You can see the stops here; operators and admins give them reasons.').waitFor();
      await expect(viewer.page.locator('.station-card button').count()).resolves.toBe(0);
      await expect(viewer.page.getByRole('button', { name: 'Jam' }).count()).resolves.toBe(0);
      await expect(viewer.page.getByRole('group', { name: /^Why did/ }).count()).resolves.toBe(0);
      expect(await accessibilityProblems(viewer.page)).toEqual([]);
      expect(viewer.errors).toEqual([]);
    } finally {
      await viewer.context.close();
    }
  });
});
