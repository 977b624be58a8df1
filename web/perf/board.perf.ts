// Measurements, not tests: the first load's JavaScript as the server sends it (compressed), and
// the live board's frame times with 500 tiles while 100 state changes a second arrive. Prints a
// report; asserts nothing. Run with `npm run perf` (after the binary is built, as for the
// browser tests).

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, it } from 'vitest';
import { Device, type Server, launchBrowser, openPage, screenshot, signUpByApi, startServer } from '../e2e/harness';

const LOGGERS = Number(process.env.PERF_LOGGERS ?? 50);
const PINS = Number(process.env.PERF_PINS ?? 10);
const RATE = Number(process.env.PERF_RATE ?? 100); // state changes per second
const SECONDS = Number(process.env.PERF_SECONDS ?? 20);

let server: Server;
beforeAll(async () => {
  server = await startServer({ enrollment: 'auto' });
});
afterAll(async () => server?.stop());

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

async function transferred(page: Page, path: string, encoding: string) {
  const sizes: { url: string; type: string; bytes: number }[] = [];
  await page.setExtraHTTPHeaders({ 'accept-encoding': encoding });
  const pending: Promise<void>[] = [];
  page.on('response', (r) => {
    pending.push(
      r
        .request()
        .sizes()
        .then((s) => {
          sizes.push({ url: new URL(r.url()).pathname, type: r.request().resourceType(), bytes: s.responseBodySize });
        }),
    );
  });
  await page.goto(path, { waitUntil: 'networkidle' });
  await Promise.all(pending);
  return sizes;
}

it(
  'measures the first load and the board under load',
  async () => {
    const { token } = await signUpByApi(server);
    const session = await (
      await fetch(`${server.url}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${token}` } })
    ).json();
    const stored = JSON.stringify({ token, expires_at: Date.now() + 3_600_000, ...session });
    const browser = await launchBrowser();
    const lines: string[] = [];

    // First load: what a browser downloads to show the sign-in page, and the board once signed in.
    for (const encoding of ['gzip', 'br, gzip']) {
      const { context, page } = await openPage(browser, server);
      const login = await transferred(page, '/login', encoding);
      const js = login.filter((s) => s.type === 'script');
      lines.push(
        `first load (/login, Accept-Encoding: ${encoding}): JS ${kb(js.reduce((a, s) => a + s.bytes, 0))} in ${js.length} file(s), ` +
          `everything ${kb(login.reduce((a, s) => a + s.bytes, 0))}`,
      );
      await context.close();
    }
    {
      const { context, page } = await openPage(browser, server);
      await page.addInitScript((s) => localStorage.setItem('assetlog.session', s), stored);
      const board = await transferred(page, '/', 'gzip');
      lines.push(`first load (/ signed in, gzip): JS ${kb(board.filter((s) => s.type === 'script').reduce((a, s) => a + s.bytes, 0))}`);
      for (const path of ['/analytics', '/timeline', '/settings']) {
        const before = board.length;
        await page.getByRole('link', { name: path.slice(1).replace(/^./, (c) => c.toUpperCase()) }).click();
        await page.waitForLoadState('networkidle');
        await page.waitForTimeout(300);
        const extra = board.slice(before).filter((s) => s.type === 'script');
        lines.push(`  + ${path}: JS ${kb(extra.reduce((a, s) => a + s.bytes, 0))} (${extra.map((s) => s.url.split('/').pop()).join(', ')})`);
      }
      await context.close();
    }

    // The board: LOGGERS × PINS machines, each starting RUNNING.
    const devices: Device[] = [];
    for (let l = 0; l < LOGGERS; l++) {
      const d = new Device(server, `perf-${String(l).padStart(3, '0')}`);
      await d.register(
        Array.from({ length: PINS }, (_, p) => ({ pin_number: p, asset_name: `M ${l}.${p}` })),
        `Line ${String(l).padStart(3, '0')}`,
      );
      await d.batch(Array.from({ length: PINS }, (_, p) => ({ pin: p, running: true, ts: Date.now() - 60_000 })));
      devices.push(d);
    }
    const { context, page } = await openPage(browser, server, { width: 1920, height: 1080 });
    await page.addInitScript((s) => localStorage.setItem('assetlog.session', s), stored);
    const t0 = Date.now();
    await page.goto('/');
    await page.waitForFunction((n) => document.querySelectorAll('li.tile[data-state="RUNNING"]').length === n, LOGGERS * PINS, {
      timeout: 60_000,
    });
    lines.push(`board with ${LOGGERS * PINS} tiles: ready ${Date.now() - t0} ms after navigation`);
    await page.getByText('● Live').waitFor();

    // Frame times and long tasks in the page; when each tile changed, by the page's clock.
    await page.evaluate(() => {
      const w = window as unknown as { perf: { frames: number[]; long: number[]; changes: Map<string, number> } };
      w.perf = { frames: [], long: [], changes: new Map() };
      let last = performance.now();
      const tick = (t: number) => {
        w.perf.frames.push(t - last);
        last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      new PerformanceObserver((list) => list.getEntries().forEach((e) => w.perf.long.push(e.duration))).observe({ type: 'longtask', buffered: false });
      new MutationObserver((records) => {
        const now = Date.now();
        for (const r of records) {
          const el = r.target as HTMLElement;
          if (r.attributeName === 'data-state') w.perf.changes.set(`${el.dataset.assetId}:${el.dataset.state}`, now);
        }
      }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
    });

    // RATE changes a second, spread over the loggers, each flipping one machine.
    const state = new Map<string, boolean>();
    const sent: { key: string; at: number; pin: number; logger: number }[] = [];
    const assets = (await (await fetch(`${server.url}/api/v1/assets`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
      id: number;
      logger_id: string;
      pin_number: number;
    }[];
    const idOf = new Map(assets.map((a) => [`${a.logger_id}/${a.pin_number}`, a.id]));
    const tickMs = 100;
    const perTick = Math.round((RATE * tickMs) / 1000);
    const start = Date.now();
    let n = 0;
    while (Date.now() - start < SECONDS * 1000) {
      const due = start + n * tickMs;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const batches = new Map<number, { pin: number; running: boolean; ts: number }[]>();
      for (let i = 0; i < perTick; ) {
        const logger = Math.floor(Math.random() * LOGGERS);
        const pin = Math.floor(Math.random() * PINS);
        const key = `${logger}/${pin}`;
        if (batches.get(logger)?.some((e) => e.pin === pin)) continue;
        i++;
        const running = !(state.get(key) ?? true);
        state.set(key, running);
        const id = idOf.get(`${devices[logger]!.loggerId}/${pin}`)!;
        sent.push({ key: `${id}:${running ? 'RUNNING' : 'STOPPED'}`, at: Date.now(), pin, logger });
        batches.set(logger, [...(batches.get(logger) ?? []), { pin, running, ts: Date.now() }]);
      }
      await Promise.all([...batches].map(([logger, events]) => devices[logger]!.batch(events)));
      n++;
    }
    const elapsed = (Date.now() - start) / 1000;
    await page.waitForTimeout(1500);
    const perf = await page.evaluate(() => {
      const w = window as unknown as { perf: { frames: number[]; long: number[]; changes: Map<string, number> } };
      return { frames: w.perf.frames, long: w.perf.long, changes: [...w.perf.changes] };
    });
    await screenshot(page, 'perf-board', false);
    const frames = perf.frames.slice(1);
    const changes = new Map(perf.changes);
    // The last send of each (asset, state) is the one the page's last change of it answers.
    const lastSent = new Map(sent.map((s) => [s.key, s.at]));
    const latencies = [...lastSent].filter(([k]) => changes.has(k)).map(([k, at]) => changes.get(k)! - at);
    lines.push(
      `load: ${sent.length} changes in ${elapsed.toFixed(1)} s (${(sent.length / elapsed).toFixed(0)}/s) to ${LOGGERS * PINS} tiles`,
      `frames: ${frames.length} (${((1000 * frames.length) / frames.reduce((a, b) => a + b, 0)).toFixed(1)} fps); frame time p50 ${quantile(frames, 0.5).toFixed(1)} ms, ` +
        `p95 ${quantile(frames, 0.95).toFixed(1)} ms, p99 ${quantile(frames, 0.99).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms; ` +
        `frames over 50 ms: ${frames.filter((f) => f > 50).length}`,
      `long tasks (>50 ms): ${perf.long.length}, total ${perf.long.reduce((a, b) => a + b, 0).toFixed(0)} ms`,
      `POST → tile colour: p50 ${quantile(latencies, 0.5)} ms, p95 ${quantile(latencies, 0.95)} ms, max ${Math.max(...latencies)} ms ` +
        `(${latencies.length} of ${lastSent.size} distinct changes matched)`,
    );
    await context.close();
    await browser.close();
    console.log(`\n== assetlog dashboard performance ==\n${lines.join('\n')}\n`);
  },
  600_000,
);
