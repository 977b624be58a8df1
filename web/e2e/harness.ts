// What the browser tests drive: the real assetlog binary on a free port with a fresh data
// directory, loggers speaking the device protocol, and headless Chromium.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { inject } from 'vitest';

export const RESULTS = resolve(import.meta.dirname, '../test-results');

export interface Server {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  enrollment?: 'claim' | 'auto';
  heartbeatInterval?: number;
  /** Alert channels may send to loopback (the tests' own webhook receiver). */
  allowPrivateWebhooks?: boolean;
  /** Email through this SMTP server (`--smtp-url`), from assetlog@plant.example. */
  smtpUrl?: string;
  dataDir?: string;
  port?: number;
}

/** Starts `assetlog serve` and resolves when it prints the address it listens on. */
export async function startServer(options: ServerOptions = {}): Promise<Server> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'assetlog-e2e-'));
  const args = ['serve', '--bind', `127.0.0.1:${options.port ?? 0}`, '--data-dir', dataDir];
  if (options.enrollment) args.push('--enrollment', options.enrollment);
  if (options.heartbeatInterval) args.push('--heartbeat-interval', String(options.heartbeatInterval));
  if (options.allowPrivateWebhooks) args.push('--allow-private-webhooks');
  if (options.smtpUrl) args.push('--smtp-url', options.smtpUrl, '--mail-from', 'assetlog@plant.example');
  const child: ChildProcess = spawn(inject('assetlogBin'), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolveUrl(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`assetlog exited (${code}) before listening:\n${stderr}`)));
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function call<T>(url: string, method: string, body?: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The API as a signed-in user sees it (to compare the page with). */
export function userApi(server: Server, token: string) {
  return {
    get: <T>(path: string) => call<T>(server.url + path, 'GET', undefined, token),
    post: <T>(path: string, body: unknown) => call<T>(server.url + path, 'POST', body, token),
    put: <T>(path: string, body: unknown) => call<T>(server.url + path, 'PUT', body, token),
  };
}

/**
 * A fixed-offset zone where it is around midday now, so a test that seeds the last hour and
 * reads "Today" finds all of it on one local day, whatever the hour it runs at.
 */
export function zoneAtMidday(now = Date.now()): string {
  const offset = 12 - new Date(now).getUTCHours(); // -11..12 hours ahead of UTC
  // The Etc zones count the other way: Etc/GMT-5 is five hours ahead of UTC.
  return offset === 0 ? 'Etc/UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}

export async function signUpByApi(server: Server, email = 'ada@plant.example', password = 'correct horse battery', tenant = 'Plant A') {
  return call<{ token: string }>(`${server.url}/api/v1/auth/signup`, 'POST', { email, password, tenant_name: tenant });
}

/** A logger speaking the device protocol, as the firmware and the agent do. */
export class Device {
  key: string | null = null;
  claimCode: string | null = null;
  private seq = 0;
  constructor(
    readonly server: Server,
    readonly loggerId: string,
  ) {}

  async register(assets: { pin_number: number; asset_name: string }[], name?: string) {
    const r = await call<{ device_key?: string; claim_code?: string; status: string }>(
      `${this.server.url}/api/device/register`,
      'POST',
      { logger_id: this.loggerId, logger_name: name, firmware_version: '1.2.0', assets },
      this.key ?? undefined,
    );
    if (r.device_key) this.key = r.device_key;
    this.claimCode = r.claim_code ?? null;
    return r;
  }

  async state(pin: number, running: boolean, timestamp?: number) {
    return call(
      `${this.server.url}/api/asset-state`,
      'POST',
      { logger_id: this.loggerId, pin_number: pin, is_running: running, timestamp, seq: ++this.seq },
      this.key!,
    );
  }

  async batch(events: { pin: number; running: boolean; ts: number }[]) {
    return call<{ acked_seq: number }>(
      `${this.server.url}/api/v1/ingest`,
      'POST',
      { logger_id: this.loggerId, events: events.map((e) => ({ ...e, seq: ++this.seq })) },
      this.key!,
    );
  }

  async heartbeat(telemetry: Record<string, number> = {}) {
    return call(`${this.server.url}/api/device/heartbeat`, 'POST', { logger_id: this.loggerId, ...telemetry }, this.key!);
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: inject('chromiumPath'),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser context (no cookies, no storage) on the server, with console errors collected. */
export async function openPage(browser: Browser, server: Server, viewport = { width: 1280, height: 860 }) {
  const context: BrowserContext = await browser.newContext({ baseURL: server.url, viewport, locale: 'en-GB' });
  const page: Page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/**
 * What a phone test checks against the screen's width: how far right anything in the page's main
 * part reaches (px, rounded), and what that is; and whether any frame in it scrolls sideways.
 * A table in a scrolling frame keeps the page narrow while its columns are out of sight.
 */
export async function sidewaysReach(page: Page): Promise<{ right: number; what: string; scrollingFrames: string[] }> {
  return page.evaluate(() => {
    const name = (el: Element) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.getAttribute('aria-label') ? ` "${el.getAttribute('aria-label')}"` : ''}`;
    const all = [...document.querySelectorAll('main *')];
    const widest = all
      .map((el) => ({ el, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width > 0)
      .sort((a, b) => b.box.right - a.box.right)[0]!;
    const scrollingFrames = all
      .filter((el) => el.scrollWidth > el.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(el).overflowX))
      .map((el) => `${name(el)} (${el.scrollWidth} in ${el.clientWidth})`);
    return { right: Math.round(widest.box.right), what: name(widest.el), scrollingFrames };
  });
}

/** Signs in through the sign-in form. */
export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Live board' }).waitFor();
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * What axe-core finds against WCAG 2 A and AA on the page as it is (labels, names, contrast,
 * landmarks, ARIA). Evaluated through the devtools protocol, so the page's own CSP stays on.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return violations.map((v) => `${v.id}: ${v.help} (${v.nodes.join('; ')})`);
}

interface AxeViolation {
  id: string;
  help: string;
  nodes: { target: string[] }[];
}
