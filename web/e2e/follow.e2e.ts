// The pages with figures follow the plant by themselves: a stop that begins while the stops,
// timeline or analytics page is open appears on it without a reload, an ongoing stop's duration
// grows, and when the server goes away the last figures stay, marked stale, until it is back and
// they are read again.

import type { Browser, Page } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Device, type Server, accessibilityProblems, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi, zoneAtMidday } from './harness';

let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let device: Device;
let api: ReturnType<typeof userApi>;
const dataDir = mkdtempSync(join(tmpdir(), 'assetlog-e2e-follow-'));
const MIN = 60_000;
const HOUR = 60 * MIN;

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto', dataDir });
  const { token } = await signUpByApi(server);
  api = userApi(server, token);
  // The pages open on "Today": in a zone where it is midday, the last hour is all today, also
  // when the suite runs just after midnight UTC.
  await api.put('/api/v1/settings', { timezone: zoneAtMidday() });
  device = new Device(server, 'esp32-FOLLOW');
  await device.register([{ pin_number: 1, asset_name: 'Lathe' }], 'Hall 2');
  // Running since ten minutes ago, today in the tenant's zone.
  await device.batch([{ pin: 1, running: true, ts: Date.now() - 10 * MIN }]);
  ({ page, errors } = await openPage(browser, server));
  await signIn(page, 'ada@plant.example', 'correct horse battery');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pages that follow the live socket', () => {
  it('shows a new stop on the stops page without a reload, and its duration grows', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Stops' }).click();
    await page.getByText('No stops in this period').waitFor();
    await device.batch([{ pin: 1, running: false, ts: Date.now() - 2000 }]);
    const row = page.locator('#stops tbody tr');
    await row.first().waitFor();
    await expect(row.first().innerText()).resolves.toContain('ongoing');
    const duration = row.first().locator('td.num');
    const first = await duration.innerText();
    await expect.poll(() => duration.innerText(), { timeout: 5000 }).not.toBe(first);
    expect(errors).toEqual([]);
  });

  it('draws the stop on the timeline and counts it in analytics as it happens', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Timeline' }).click();
    await page.getByText('Show as a list').click();
    const stopped = page.locator('#timeline-list tbody tr[data-state="STOPPED"]');
    await stopped.first().waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'Analytics' }).click();
    const stops = page.locator('#asset-figures tbody tr td[data-col="stops"]');
    await expect.poll(() => stops.innerText()).toBe('1');
    // Running again, and a second stop: the open page counts it.
    await device.batch([
      { pin: 1, running: true, ts: Date.now() - 1000 },
      { pin: 1, running: false, ts: Date.now() - 500 },
    ]);
    await expect.poll(() => stops.innerText(), { timeout: 10_000 }).toBe('2');
    expect(errors).toEqual([]);
  });

  it('counts the same stops in the cards, the table and the Pareto, a split stop once', async () => {
    // A minute's stop eight minutes ago (it arrives late, behind the live ones), split in two
    // with two reasons: still one stop.
    await device.batch([
      { pin: 1, running: false, ts: Date.now() - 8 * MIN },
      { pin: 1, running: true, ts: Date.now() - 7 * MIN },
    ]);
    const jam = await api.post<{ id: number }>('/api/v1/reasons', { category: 'Material', name: 'Jam' });
    const tool = await api.post<{ id: number }>('/api/v1/reasons', { category: 'Tooling', name: 'Tool change' });
    const now = Date.now();
    const stops = await api.get<{ id: string; start: number; ongoing: boolean }[]>(`/api/v1/stops?from=${now - HOUR}&to=${now + 1}`);
    const past = stops.find((s) => !s.ongoing && s.start < now - 7 * MIN)!;
    await api.put(`/api/v1/stops/${past.id}`, { reason_id: jam.id, comment: '' });
    const split = await api.post<{ parts: string[] }>(`/api/v1/stops/${past.id}/split`, { at: past.start + 30_000 });
    await api.put(`/api/v1/stops/${split.parts[1]}`, { reason_id: tool.id, comment: '' });
    await page.reload();
    const total = page.locator('#asset-figures tr', { hasText: 'All machines' }).locator('td[data-col="stops"]');
    await expect.poll(() => total.innerText()).toBe('3');
    const card = page.locator('.kpi', { hasText: 'Stops' });
    await expect(card.innerText()).resolves.toMatch(/^Stops\s+3 \(/);
    const paretoStops = await page
      .locator('#pareto-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => Number(r.querySelectorAll('td')[2]?.textContent ?? 'NaN')));
    expect(paretoStops.reduce((a, b) => a + b, 0)).toBe(3);
    expect(errors).toEqual([]);
  });

  it('keeps its figures marked stale while the server is away, and recovers by itself', async () => {
    const stops = page.locator('#asset-figures tbody tr td[data-col="stops"]');
    await server.stop();
    const stale = page.getByTestId('stale');
    await stale.waitFor({ timeout: 30_000 });
    await expect(stale.innerText()).resolves.toMatch(/^Not live: .*updates by itself when the server is back\./);
    // The last figures are still there, greyed.
    await expect(stops.first().innerText()).resolves.toBe('3');
    await expect(page.locator('main .is-stale').count()).resolves.toBe(1);
    await screenshot(page, 'analytics-stale');
    expect(await accessibilityProblems(page)).toEqual([]);
    // Back on the same port and data: the page reads again without a hand on it.
    server = await startServer({ enrollment: 'auto', dataDir, port: server.port });
    await stale.waitFor({ state: 'detached', timeout: 40_000 });
    await expect(page.locator('main .is-stale').count()).resolves.toBe(0);
    await expect.poll(() => stops.first().innerText()).toBe('3');
    // While it was away the browser said so in its console (the socket failing); nothing else.
    expect(errors.filter((e) => !/WebSocket/.test(e))).toEqual([]);
  });
});
