// Loggers waiting to be claimed, as an admin sees them on the loggers page: a squatted hardware
// id is released, and what the squatter stored goes with it (docs/SECURITY.md).

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer } from './harness';

let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer();
  await signUpByApi(server, 'boss@plant.example', 'a long boss password', 'Plant P');
  ({ page, errors } = await openPage(browser, server));
  await signIn(page, 'boss@plant.example', 'a long boss password');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('pending loggers', () => {
  it('lists them without their codes and releases a squatted id', async () => {
    const squatter = new Device(server, 'esp32-5QUAT1');
    await squatter.register([{ pin_number: 1, asset_name: 'Fake 1' }]);
    await squatter.state(1, true);
    await squatter.state(1, false);

    await page.getByRole('link', { name: 'Loggers' }).click();
    const section = page.getByRole('region', { name: 'Waiting to be claimed' });
    const row = section.getByRole('row', { name: /esp32-5QUAT1/ });
    await row.waitFor();
    const text = await row.innerText();
    expect(text).toContain('127.0.0.1');
    expect(text).toContain('1.2.0');
    expect(text).toContain('2 events, 1 input');
    expect(await section.innerText()).not.toContain(squatter.claimCode!);
    await screenshot(page, 'loggers-pending');
    expect(await accessibilityProblems(page)).toEqual([]);

    await row.getByRole('button', { name: 'Release' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Release' }).click();
    await section.waitFor({ state: 'detached' });
    // The squatter's key is worth nothing now; the id is free for the real logger.
    const refused = await fetch(`${server.url}/api/device/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${squatter.key}` },
      body: JSON.stringify({ logger_id: 'esp32-5QUAT1' }),
    });
    expect(refused.status).toBe(401);
    const real = new Device(server, 'esp32-5QUAT1');
    const reg = await real.register([]);
    expect(reg.status).toBe('pending');
    expect(real.key).not.toBe(squatter.key);
    expect(errors).toEqual([]);
  });
});
