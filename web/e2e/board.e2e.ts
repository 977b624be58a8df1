// The live board the way a plant manager meets it: sign up on a new server, an empty board that
// says what to do, a logger's machine turning red and green as it reports, a logger going
// silent, the socket dropping and coming back, TV mode, and a phone-sized screen.

import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, startServer } from './harness';

let browser: Browser;
let server: Server;

beforeAll(async () => {
  browser = await launchBrowser();
  // A short heartbeat interval: a silent logger is offline after 6 s instead of 90.
  server = await startServer({ enrollment: 'auto', heartbeatInterval: 2 });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const tile = (page: Page, name: string) => page.locator('li.tile', { hasText: name });

describe('live board', () => {
  let page: Page;
  let errors: string[];
  const device = () => new Device(server, 'esp32-A1B2C3');
  let line1: Device;

  it('signs up the first user and shows an empty board that says what to do', async () => {
    ({ page, errors } = await openPage(browser, server));
    await page.goto('/');
    // Signed out: the sign-in page, with the way to the first sign-up.
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByRole('link', { name: 'Create the first account' }).click();
    await page.getByRole('heading', { name: 'Create the first account' }).waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByLabel('Plant or company name').fill('Plant A');
    await page.getByLabel('Email').fill('ada@plant.example');
    // A password long enough for the form but easy to guess: the server's reason is shown.
    await page.getByLabel('Password').fill('aaaaaaaaaa');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').filter({ hasText: 'this password is too easy to guess' }).waitFor();
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();

    await page.getByRole('heading', { name: 'Live board' }).waitFor();
    await page.getByRole('heading', { name: 'No loggers yet' }).waitFor();
    await expect(page.locator('.empty').innerText()).resolves.toContain('assetlog-agent simulate --server');
    await page.getByText('● Live').waitFor();
    await screenshot(page, 'board-empty');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('turns a machine red and then green as its logger reports, without a reload', async () => {
    // Anything that reloads the page would drop this marker.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    line1 = device();
    await line1.register(
      [
        { pin_number: 4, asset_name: 'Press 4' },
        { pin_number: 5, asset_name: 'Lathe 5' },
      ],
      'Line 1',
    );
    // A registered machine that has not reported yet: grey, no signal.
    await tile(page, 'Press 4').and(page.locator('[data-state="UNKNOWN"]')).waitFor();

    await line1.state(4, false);
    const press = tile(page, 'Press 4');
    await press.and(page.locator('[data-state="STOPPED"]')).waitFor();
    await expect(press.innerText()).resolves.toMatch(/STOPPED/i);
    await expect(press.evaluate((el) => getComputedStyle(el).backgroundColor)).resolves.toBe('rgb(198, 40, 40)');
    await screenshot(page, 'board-stopped');

    // Time in state ticks on its own.
    const first = await press.locator('.tile-time').innerText();
    await page.waitForFunction(
      ([sel, before]) => document.querySelector(sel!)?.textContent !== before,
      ['li.tile[data-asset-id] .tile-time', first] as const,
    );

    await line1.state(4, true);
    await press.and(page.locator('[data-state="RUNNING"]')).waitFor();
    await expect(press.evaluate((el) => getComputedStyle(el).backgroundColor)).resolves.toBe('rgb(26, 127, 55)');
    await line1.state(5, true);
    await tile(page, 'Lathe 5').and(page.locator('[data-state="RUNNING"]')).waitFor();
    await expect(page.locator('.summary').innerText()).resolves.toMatch(/2 running/);
    await expect(page.evaluate(() => (window as unknown as { marker?: number }).marker)).resolves.toBe(42);
    await screenshot(page, 'board-running');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('shows the keyboard focus on a tile, inside it', async () => {
    const link = tile(page, 'Press 4').locator('a.tile-link');
    await link.focus();
    // Back and forth by keyboard, so the browser shows the focus as it does for Tab users.
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const ring = await link.evaluate((el) => {
      const style = getComputedStyle(el);
      return {
        focused: el.matches(':focus-visible'),
        style: style.outlineStyle,
        width: parseFloat(style.outlineWidth),
        offset: parseFloat(style.outlineOffset),
      };
    });
    expect(ring.focused).toBe(true);
    expect(ring.style).toBe('solid');
    expect(ring.width).toBeGreaterThanOrEqual(3);
    // Inside the tile's own box: `contain: paint` on the tile clips anything outside it.
    expect(ring.offset + ring.width).toBeLessThanOrEqual(0);
    await screenshot(page, 'board-focus');
  });

  it('makes a silent logger unmistakable', async () => {
    const group = page.locator('section.group', { hasText: 'Line 1' });
    await group.getByText('Logger offline').waitFor({ timeout: 20_000 });
    await expect(group.getAttribute('class')).resolves.toContain('offline');
    await tile(page, 'Press 4').and(page.locator('[data-state="UNKNOWN"]')).waitFor();
    await expect(tile(page, 'Press 4').innerText()).resolves.toMatch(/no signal/i);
    await screenshot(page, 'board-offline');
    expect(await accessibilityProblems(page)).toEqual([]);
    // It speaks again: back online with what it was doing.
    await line1.heartbeat();
    await tile(page, 'Press 4').and(page.locator('[data-state="RUNNING"]')).waitFor();
    await expect(group.getAttribute('class')).resolves.not.toContain('offline');
  });

  it('reconnects after losing the live socket and re-reads what it missed', async () => {
    const { context, page: p2, errors: e2 } = await openPage(browser, server);
    // Route the live socket through the test, so the test can cut it like a bad network.
    let cut = false;
    const sockets: WebSocketRoute[] = [];
    await context.routeWebSocket(/\/api\/v1\/live/, (ws) => {
      if (cut) {
        ws.close({ code: 1006 });
        return;
      }
      sockets.push(ws);
      ws.connectToServer();
    });
    const token = await page.evaluate(() => localStorage.getItem('assetlog.session'));
    await p2.addInitScript((s) => localStorage.setItem('assetlog.session', s), token!);
    await p2.goto('/');
    await p2.getByText('● Live').waitFor();
    await line1.state(4, true).catch(() => {}); // a contact: keep the logger online
    await tile(p2, 'Press 4').and(p2.locator('[data-state="RUNNING"]')).waitFor();

    cut = true;
    for (const ws of sockets) await ws.close({ code: 1006 });
    await p2.getByText(/Connection lost/).waitFor();
    // The machine stops while this tab is deaf.
    await line1.state(4, false);
    await screenshot(p2, 'board-reconnecting');
    cut = false;
    await p2.getByText('● Live').waitFor({ timeout: 40_000 });
    await tile(p2, 'Press 4').and(p2.locator('[data-state="STOPPED"]')).waitFor();
    expect(e2).toEqual([]);
    await context.close();
  });

  it('fills a TV with a dark full-screen board', async () => {
    await page.getByRole('button', { name: 'TV mode' }).click();
    await page.getByRole('link', { name: 'Exit TV mode' }).waitFor();
    await expect(page.locator('html').getAttribute('class')).resolves.toContain('tv');
    await expect(page.locator('nav').count()).resolves.toBe(0);
    await expect(page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).resolves.toBe('rgb(13, 17, 23)');
    await tile(page, 'Press 4').waitFor();
    await screenshot(page, 'board-tv');
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await page.getByRole('heading', { name: 'Live board' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('fits a 360 px phone without sideways scrolling', async () => {
    const token = await page.evaluate(() => localStorage.getItem('assetlog.session'));
    const { context, page: phone, errors: e3 } = await openPage(browser, server, { width: 360, height: 740 });
    await phone.addInitScript((s) => localStorage.setItem('assetlog.session', s), token!);
    await phone.goto('/');
    await tile(phone, 'Press 4').waitFor();
    await expect(phone.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(360);
    // The navigation folds into a menu button that works from the keyboard.
    const menu = phone.getByRole('button', { name: 'Menu' });
    await menu.focus();
    await phone.keyboard.press('Enter');
    await expect(menu.getAttribute('aria-expanded')).resolves.toBe('true');
    await phone.getByRole('link', { name: 'Loggers' }).waitFor();
    await screenshot(phone, 'board-360px');
    expect(await accessibilityProblems(phone)).toEqual([]);
    expect(e3).toEqual([]);
    await context.close();
  });

  it('shows a plant at a glance (the README picture)', async () => {
    const minutes = (m: number) => Date.now() - m * 60_000;
    // A logger that reported a while ago and then fell silent.
    const paint = new Device(server, 'esp32-PAINT1');
    await paint.register(
      [
        { pin_number: 0, asset_name: 'Oven' },
        { pin_number: 1, asset_name: 'Spray booth' },
      ],
      'Paint shop',
    );
    await paint.batch([
      { pin: 0, running: true, ts: minutes(50) },
      { pin: 1, running: true, ts: minutes(50) },
    ]);
    const lines: [Device, [string, boolean[]][]][] = [
      [
        new Device(server, 'esp32-ASSY01'),
        [
          ['Robot cell 1', [true, false, true]],
          ['Robot cell 2', [true, false, true, false]],
          ['Screwdriver', [true]],
          ['Leak tester', [true, false, true, false, true]],
        ],
      ],
      [
        new Device(server, 'esp32-PACK01'),
        [
          ['Filler', [true, false, true]],
          ['Capper', [true, false]],
          ['Labeller', [true, false, true]],
        ],
      ],
    ];
    const names = ['Assembly', 'Packaging'];
    for (const [i, [d, machines]] of lines.entries()) {
      await d.register(
        machines.map(([asset_name], pin) => ({ pin_number: pin, asset_name })),
        names[i],
      );
      // Each machine's day: alternating states, the last one still holding.
      await d.batch(
        machines.flatMap(([, states], pin) => states.map((running, k) => ({ pin, running, ts: minutes(90 - k * (70 / states.length) - pin) }))),
      );
    }
    await line1.state(5, true);
    // Keep the others speaking while the paint shop goes quiet.
    const alive = setInterval(() => {
      for (const d of [line1, ...lines.map(([d]) => d)]) void d.heartbeat({ rssi: -58 }).catch(() => {});
    }, 1000);
    try {
      await page.goto('/');
      await page.locator('section.group', { hasText: 'Paint shop' }).getByText('Logger offline').waitFor({ timeout: 20_000 });
      await page.waitForFunction(() => [...document.querySelectorAll('.tile-today')].every((el) => el.textContent!.includes('Today')));
      await expect(page.locator('li.tile').count()).resolves.toBe(11);
      await expect(page.locator('li.tile[data-state="STOPPED"]').count()).resolves.toBeGreaterThan(1);
      await screenshot(page, 'dashboard', false);
      expect(await accessibilityProblems(page)).toEqual([]);
    } finally {
      clearInterval(alive);
    }
  });
});
