// Alerting the way a plant manager sets it up and an operator meets it: a webhook channel that
// answers its test, a rule for stops longer than a few seconds, a machine that stops, the badge in
// the header and the mark on its tile, acknowledging with a comment, the deliveries, and the
// alert clearing when the machine runs again.

import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer } from './harness';

let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let device: Device;
/** What the webhook receiver was sent. */
const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
let receiver: HttpServer;
let receiverUrl: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  browser = await launchBrowser();
  // The receiver is on loopback, which the server refuses unless told (docs/ALERTS.md).
  server = await startServer({ enrollment: 'auto', allowPrivateWebhooks: true });
  await signUpByApi(server, 'ada@plant.example', 'correct horse battery', 'Plant A');
  device = new Device(server, 'esp32-A1E47');
  await device.register([{ pin_number: 1, asset_name: 'Press 1' }], 'Line 1');
  await device.state(1, true);
  ({ page, errors } = await openPage(browser, server));
  await signIn(page, 'ada@plant.example', 'correct horse battery');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => receiver?.close(r));
});

const tile = () => page.locator('li.tile', { hasText: 'Press 1' });

describe('alerts', () => {
  it('adds a webhook channel whose test reaches the receiver', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: 'Add a channel' });
    await form.getByLabel('Name').fill('Ops hook');
    await form.getByLabel('URL').fill(receiverUrl);
    await form.getByRole('button', { name: 'Add channel' }).click();
    const row = page.locator('#alert-channel-list tbody tr', { hasText: 'Ops hook' });
    await row.waitFor();
    // The secret is shown so the receiver can check the signature.
    await expect(row.getByRole('button', { name: 'Copy the secret of Ops hook' }).count()).resolves.toBe(1);

    await row.getByRole('button', { name: 'Send test to Ops hook' }).click();
    await row.getByText('Delivered (HTTP 200)').waitFor();
    expect(received).toHaveLength(1);
    await screenshot(page, 'alert-channels');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('adds a rule for stops longer than two seconds', async () => {
    const form = page.getByRole('form', { name: 'Add a rule' });
    await form.getByLabel('Name').fill('Long stop');
    await form.getByRole('combobox', { name: /^Condition/ }).selectOption('stop_longer_than');
    await form.getByLabel(/Stopped longer than/).fill('2');
    // No shifts: every hour is planned, but say so plainly.
    await form.getByLabel(/Only in planned time/).uncheck();
    await form.getByRole('group', { name: 'Send to' }).getByLabel('Ops hook').check();
    await form.getByRole('button', { name: 'Add rule' }).click();
    const row = page.locator('#alert-rule-list tbody tr', { hasText: 'Long stop' });
    await row.waitFor();
    await expect(row.innerText()).resolves.toContain('Stopped longer than 2 s');
    await expect(row.getByRole('checkbox', { name: 'Rule Long stop enabled' }).isChecked()).resolves.toBe(true);
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('opens an alert when the machine stays stopped: a badge in the header, a mark on its tile', async () => {
    await page.getByRole('link', { name: 'Board' }).click();
    await tile().and(page.locator('[data-state="RUNNING"]')).waitFor();
    await device.state(1, false);
    await tile().and(page.locator('[data-alert="active"]')).waitFor({ timeout: 30_000 });
    await expect(tile().innerText()).resolves.toMatch(/Alert/);
    await page.locator('.alert-badge', { hasText: '1 open alert' }).waitFor();
    await screenshot(page, 'board-alert');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('acknowledges it with a comment, and shows where it was sent', async () => {
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    const row = page.locator('#open-alerts tbody tr', { hasText: 'Press 1' });
    await row.and(page.locator('[data-state="active"]')).waitFor();
    await row.getByRole('button', { name: 'Acknowledge Long stop on Press 1' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Comment/).fill('Fitter on the way');
    await dialog.getByRole('button', { name: 'Acknowledge' }).click();
    await row.and(page.locator('[data-state="acknowledged"]')).waitFor();
    await expect(row.innerText()).resolves.toContain('by ada@plant.example');
    await expect(row.innerText()).resolves.toContain('Fitter on the way');
    // Still open (the machine is still stopped), but someone is on it.
    await page.locator('.alert-badge.acknowledged', { hasText: '1 open alert' }).waitFor();

    await row.getByRole('button', { name: 'Deliveries of Long stop on Press 1' }).click();
    const deliveries = page.locator('#deliveries tbody tr', { hasText: 'Opened' });
    // The delivery is logged as the receiver answers, which may be just after the page asked.
    await expect
      .poll(async () => {
        await page.locator('#deliveries').getByRole('button', { name: 'Refresh' }).click();
        return deliveries.count();
      })
      .toBeGreaterThan(0);
    await expect(deliveries.first().innerText()).resolves.toMatch(/Opened[\s\S]*Delivered[\s\S]*200/);
    await screenshot(page, 'alerts-acknowledged');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('clears it when the machine runs again, live, into the history', async () => {
    await device.state(1, true);
    await page.getByText('No open alerts.').waitFor({ timeout: 30_000 });
    await expect(page.locator('.alert-badge').count()).resolves.toBe(0);
    const history = page.locator('#alert-history tbody tr', { hasText: 'Press 1' });
    await history.and(page.locator('[data-state="cleared"]')).waitFor({ timeout: 10_000 });
    await screenshot(page, 'alerts-history');
    expect(await accessibilityProblems(page)).toEqual([]);

    await page.getByRole('link', { name: 'Board' }).click();
    await tile().and(page.locator('[data-state="RUNNING"]')).waitFor();
    await expect(tile().getAttribute('data-alert')).resolves.toBeNull();
    expect(errors).toEqual([]);
  });
});
