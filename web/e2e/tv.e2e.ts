// The shift-aware board and the TV: a plant of 24 machines on three loggers, arranged in lines
// that are not the wiring, in a shift under way. The board names the shift and its time left, each
// tile this shift's figures (as the API computes them) and an ongoing stop's reason; a long stop
// stands out and can be sorted first; the board groups by line. On a 1920×1080 TV every tile fits
// with names and durations at least 48 px, and when the server goes away a banner says so and the
// tiles are greyed.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPercent } from '../src/format';
import { Device, type Server, accessibilityProblems, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi } from './harness';

let browser: Browser;
let server: Server;
let api: ReturnType<typeof userApi>;
const MIN = 60_000;
const HOUR = 60 * MIN;
const ids: Record<string, number> = {};
const lineOf = (n: number) => ['Line A', 'Line B', 'Line C'][n % 3]!;
let shiftStart = 0;

const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto' });
  const { token } = await signUpByApi(server);
  api = userApi(server, token);
  // A shift from two hours ago to two hours ahead, every day (UTC, the tenant's zone).
  shiftStart = Math.floor((Date.now() - 2 * HOUR) / MIN) * MIN;
  const all = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  await api.put('/api/v1/shifts?from=1970-01-01', [{ name: 'Early', days: all, start: hhmm(shiftStart), end: hhmm(shiftStart + 4 * HOUR), breaks: [] }]);
  const now = Date.now();
  for (let l = 0; l < 3; l++) {
    const device = new Device(server, `esp32-HALL-${l}`);
    const pins = Array.from({ length: 8 }, (_, i) => ({ pin_number: i + 1, asset_name: `M${l * 8 + i + 1}` }));
    await device.register(pins, `Cabinet ${l + 1}`);
    const events = pins.map((p) => ({ pin: p.pin_number, running: true, ts: now - 90 * MIN }));
    // M5 has stood for 30 minutes (a long stop); M10 for one (a short one).
    if (l === 0) events.push({ pin: 5, running: false, ts: now - 30 * MIN });
    if (l === 1) events.push({ pin: 2, running: false, ts: now - MIN });
    await device.batch(events);
  }
  for (const a of await api.get<{ id: number; name: string }[]>('/api/v1/assets')) ids[a.name] = a.id;
  for (const [name, id] of Object.entries(ids)) await api.put(`/api/v1/assets/${id}`, { line: lineOf(Number(name.slice(1))) });
  const reason = await api.post<{ id: number }>('/api/v1/reasons', { category: 'Tooling', name: 'Tool change' });
  const stops = await api.get<{ id: string; asset_id: number; ongoing: boolean }[]>(`/api/v1/stops?from=${now - 2 * HOUR}&to=${now + 1}`);
  const m5 = stops.find((s) => s.asset_id === ids['M5'] && s.ongoing)!;
  await api.put(`/api/v1/stops/${m5.id}`, { reason_id: reason.id, comment: '' });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signedIn(viewport: { width: number; height: number }): Promise<{ page: Page; errors: string[] }> {
  const { page, errors } = await openPage(browser, server, viewport);
  await signIn(page, 'ada@plant.example', 'correct horse battery');
  return { page, errors };
}

describe('the shift-aware board', () => {
  it('names the shift, gives each machine this shift\'s figures, and marks the long stop with its reason', async () => {
    const { page, errors } = await signedIn({ width: 1280, height: 900 });
    const bar = page.getByTestId('shift-bar');
    await expect.poll(() => bar.innerText()).toMatch(/^Early shift \d\d:\d\d–\d\d:\d\d · 1 h 5\d min left$|^Early shift \d\d:\d\d–\d\d:\d\d · 2 h 00 min left$/);
    const expected = await api.get<{ assets: { asset_id: number; availability: number | null; down_ms: number; stops: number }[] }>(
      `/api/v1/analytics?from=${shiftStart}&to=${shiftStart + 4 * HOUR}`,
    );
    for (const name of ['M1', 'M5', 'M10']) {
      const f = expected.assets.find((a) => a.asset_id === ids[name])!;
      const tile = page.locator(`.tile[data-asset-id="${ids[name]}"] .tile-today`);
      // A stopped machine's availability falls while the test runs: its stops are what stays.
      await expect.poll(() => tile.innerText()).toMatch(new RegExp(`^This shift [\\d.]+ % · \\d+ min down · ${f.stops} stops?$`));
      if (name === 'M1') await expect(tile.innerText()).resolves.toBe(`This shift ${formatPercent(f.availability)} · 0 min down · 0 stops`);
    }
    const m5 = page.locator(`.tile[data-asset-id="${ids['M5']}"]`);
    await expect(m5.getAttribute('data-long')).resolves.toBe('true');
    await expect(m5.innerText()).resolves.toMatch(/long stop[\s\S]*Tool change/i);
    const m10 = page.locator(`.tile[data-asset-id="${ids['M10']}"]`);
    await expect(m10.getAttribute('data-long')).resolves.toBeNull();
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('groups by line, not by the wiring, and puts the longest stopped first', async () => {
    const { page, errors } = await signedIn({ width: 1280, height: 900 });
    await page.getByLabel('Group by').selectOption('line');
    await page.getByLabel('Order').selectOption('longest');
    const titles = page.locator('main section.group h2');
    await expect.poll(() => titles.allInnerTexts()).toEqual(['Line B', 'Line C', 'Line A']);
    // Line C holds M5 (stopped 30 min) and M2…; M5 comes first.
    const lineC = page.locator('section[data-section="line-Line C"] .tile');
    await expect(lineC.first().getAttribute('data-asset-id')).resolves.toBe(String(ids['M5']));
    await expect(lineC.count()).resolves.toBe(8);
    await expect(page.url()).toContain('group=line');
    await screenshot(page, 'board-shift');
    expect(await accessibilityProblems(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('gives a wall screen a read-only kiosk link that its admin can revoke', async () => {
    const { page: adminPage, errors } = await signedIn({ width: 1280, height: 900 });
    await adminPage.goto('/settings#displays');
    const form = adminPage.getByRole('form', { name: 'Add a display' });
    await form.getByLabel('Screen name').fill('TV hall 2');
    await form.getByRole('button', { name: 'Make a display link' }).click();
    const link = await adminPage.getByLabel('Display link for TV hall 2').inputValue();
    expect(link).toMatch(/\/kiosk#ald_[0-9a-f]{64}$/);
    await adminPage.locator('#displays-list td', { hasText: 'TV hall 2' }).waitFor();
    expect(await accessibilityProblems(adminPage)).toEqual([]);

    // A fresh browser opens the link: the TV board, no navigation, no way out.
    const { context, page: tv, errors: tvErrors } = await openPage(browser, server, { width: 1920, height: 1080 });
    await tv.goto(link);
    await tv.locator('.tv-grid .tile').first().waitFor();
    await expect(tv.url()).toMatch(/\/tv$/);
    await expect(tv.locator('nav').count()).resolves.toBe(0);
    await expect(tv.getByRole('link', { name: 'Exit TV mode' }).count()).resolves.toBe(0);
    // The token is kept out of the address; it reads, and the server refuses it any change.
    const token = await tv.evaluate(() => JSON.parse(localStorage.getItem('assetlog.session')!).token as string);
    expect(token.startsWith('ald_')).toBe(true);
    const put = await tv.evaluate(
      async (t) => (await fetch('/api/v1/settings', { method: 'PUT', headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' }, body: '{"timezone":"UTC"}' })).status,
      token,
    );
    expect(put).toBe(403);
    // Another address on the screen still shows the TV.
    await tv.goto('/settings');
    await tv.locator('.tv-grid .tile').first().waitFor();
    await expect(tv.url()).toMatch(/\/tv$/);

    // Revoked in settings: the screen's session ends by itself.
    await adminPage.getByRole('button', { name: 'Revoke display TV hall 2' }).click();
    await adminPage.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await adminPage.locator('#displays-list').waitFor({ state: 'detached' });
    await tv.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 15_000 });
    await tv.getByText('Your session has ended. Sign in again.').waitFor();
    expect(errors).toEqual([]);
    expect(tvErrors.filter((e) => !/WebSocket|401/.test(e))).toEqual([]);
    await context.close();
    await adminPage.context().close();
  });

  it('fills a 1920×1080 TV with all 24 machines, names and durations at least 48 px, and greys them with a banner when the server is gone', async () => {
    const { page } = await signedIn({ width: 1920, height: 1080 });
    await page.goto('/tv');
    const tiles = page.locator('.tv-grid .tile');
    await expect.poll(() => tiles.count()).toBe(24);
    const boxes = await tiles.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as DOMRect));
    for (const b of boxes) {
      expect(b.bottom).toBeLessThanOrEqual(1080);
      expect(b.right).toBeLessThanOrEqual(1920);
    }
    // Tiles grow: 24 on 1920×1080 are six across.
    expect(Math.round(boxes[0]!.width)).toBeGreaterThan(280);
    await expect(page.evaluate(() => document.documentElement.scrollHeight <= window.innerHeight)).resolves.toBe(true);
    const px = (sel: string) => page.locator(sel).first().evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    expect(await px('.tv-grid .tile-name')).toBeGreaterThanOrEqual(48);
    expect(await px('.tv-grid .tile-time')).toBeGreaterThanOrEqual(48);
    await screenshot(page, 'tv-1080', false);
    expect(await accessibilityProblems(page)).toEqual([]);

    await server.stop();
    const banner = page.getByTestId('stale-banner');
    await banner.waitFor({ timeout: 30_000 });
    await expect(banner.innerText()).resolves.toMatch(/^Not live since \d\d:\d\d: the server cannot be reached/);
    const bannerBox = (await banner.boundingBox())!;
    expect(bannerBox.width).toBeGreaterThan(1800);
    await expect(tiles.first().evaluate((e) => getComputedStyle(e).filter)).resolves.toContain('grayscale');
    await screenshot(page, 'tv-stale', false);
  });
});
