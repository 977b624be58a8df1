// An admin's work on a server where new loggers wait to be claimed: claim one with the code on
// its display, rename it and its machine, let it report without a key, rotate its key, delete it;
// add a viewer, who then finds nothing to change, and remove them again.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi, zoneAtMidday } from './harness';

let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let device: Device;
let api: ReturnType<typeof userApi>;

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer(); // default enrollment: claim
  api = userApi(server, (await signUpByApi(server, 'boss@plant.example', 'a long boss password', 'Plant B')).token);
  // The stops page opens on "Today": a stop seeded half a minute ago is on it at any hour.
  await api.put('/api/v1/settings', { timezone: zoneAtMidday() });
  ({ page, errors } = await openPage(browser, server));
  await signIn(page, 'boss@plant.example', 'a long boss password');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const card = () => page.locator('article.logger-card', { hasText: 'esp32-C0FFEE' });

describe('loggers and people', () => {
  it('claims a pending logger with the code on its display', async () => {
    device = new Device(server, 'esp32-C0FFEE');
    const reg = await device.register([{ pin_number: 3, asset_name: 'Saw 3' }], 'Saw line');
    expect(reg.status).toBe('pending');
    await device.state(3, true);
    await device.heartbeat({ rssi: -61, queued_events: 2, uptime_s: 3600, dropped_events: 3 });

    await page.getByRole('link', { name: 'Loggers' }).click();
    await page.getByRole('heading', { name: 'No loggers yet' }).waitFor();
    // A wrong code is refused with words a person understands.
    await page.getByLabel('Logger id').fill('esp32-C0FFEE');
    await page.getByLabel('Claim code').fill('WRONGCOD');
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.getByRole('alert').filter({ hasText: 'No pending logger has this id and code' }).waitFor();

    await page.getByLabel('Claim code').fill(device.claimCode!.toLowerCase());
    await page.getByRole('button', { name: 'Claim' }).click();
    await card().waitFor();
    const text = await card().innerText();
    expect(text).toContain('Online');
    expect(text).toContain('-61 dBm (good)');
    expect(text).toContain('1.2.0');
    expect(text).toMatch(/Queued events\s+2/);
    expect(text).toMatch(/Dropped events\s+3 lost/);
    expect(text).toContain('Saw 3');
    await screenshot(page, 'loggers-claimed');
    expect(await accessibilityProblems(page)).toEqual([]);

    // Its machine is on the board at once, running.
    await page.getByRole('link', { name: 'Board' }).click();
    await page.locator('li.tile[data-state="RUNNING"]', { hasText: 'Saw 3' }).waitFor();
  });

  it('renames it, lets it report without a key, and rotates its key', async () => {
    await page.getByRole('link', { name: 'Loggers' }).click();
    await card().getByRole('button', { name: 'Rename' }).click();
    await card().getByLabel('New name').fill('Saw line West');
    await card().getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('heading', { name: 'Saw line West' }).waitFor();

    await card().getByLabel('Allow keyless reports').check();
    await card().locator('dd', { hasText: /^Allowed$/ }).waitFor();
    // Now a report without any key is taken.
    const keyless = await fetch(`${server.url}/api/asset-state`, {
      method: 'POST',
      body: JSON.stringify({ logger_id: 'esp32-C0FFEE', pin_number: 3, is_running: true }),
    });
    expect(keyless.status).toBe(200);

    const oldKey = device.key;
    await card().getByRole('button', { name: 'Rotate key' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate key' }).click();
    const shown = card().locator('.notice.ok code');
    await shown.waitFor();
    const newKey = await shown.innerText();
    expect(newKey).toMatch(/^ald_[0-9a-f]{64}$/);
    // The old key is refused now; the new one works.
    device.key = oldKey;
    await expect(device.state(3, false)).rejects.toThrow(/401/);
    device.key = newKey;
    await device.state(3, false);
    await screenshot(page, 'loggers-rotated');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('renames a machine, and the board shows the new name, on a TV in another tab too', async () => {
    // A board on a TV, open before the rename. Its clock is the test's, so a minute passes at once.
    const token = await page.evaluate(() => localStorage.getItem('assetlog.session'));
    const { context: tvContext, page: tv, errors: tvErrors } = await openPage(browser, server);
    await tvContext.clock.install();
    await tv.addInitScript((s) => localStorage.setItem('assetlog.session', s), token!);
    await tv.goto('/tv');
    const tvNames = tv.locator('li.tile .tile-name');
    await expect.poll(() => tvNames.allInnerTexts()).toEqual(['Saw 3']);

    await card().getByRole('button', { name: 'Edit Saw 3' }).click();
    await card().getByLabel('Machine name').fill('Band saw 3');
    await card().getByRole('button', { name: 'Save', exact: true }).click();
    await card().getByRole('button', { name: 'Edit Band saw 3' }).waitFor();
    await expect(api.get<{ name: string }[]>('/api/v1/assets').then((list) => list.map((a) => a.name))).resolves.toEqual(['Band saw 3']);

    await page.getByRole('link', { name: 'Board' }).click();
    const names = page.locator('li.tile .tile-name');
    await expect.poll(() => names.allInnerTexts()).toEqual(['Band saw 3']);
    // The renamed tile keeps its state and still follows its input.
    const tile = page.locator('li.tile', { hasText: 'Band saw 3' });
    await expect(tile.getAttribute('data-state')).resolves.toBe('STOPPED');
    await device.state(3, true);
    await tile.and(page.locator('[data-state="RUNNING"]')).waitFor();
    await screenshot(page, 'board-renamed-machine');

    // The TV hears nothing of the rename on its socket; within a minute it reads the name anew.
    await tv.clock.fastForward('01:01');
    await expect.poll(() => tvNames.allInnerTexts()).toEqual(['Band saw 3']);
    await screenshot(tv, 'board-tv-renamed-machine');
    expect(tvErrors).toEqual([]);
    await tvContext.close();

    await page.getByRole('link', { name: 'Loggers' }).click();
    await card().waitFor();
  });

  it('deletes it after asking', async () => {
    await card().getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Its key stops working at once').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(card().count()).resolves.toBe(1);
    await card().getByRole('button', { name: 'Delete', exact: true }).click();
    await dialog.getByRole('button', { name: 'Delete logger' }).click();
    await page.getByRole('heading', { name: 'No loggers yet' }).waitFor();
    await expect(device.state(3, true)).rejects.toThrow(/401/);
  });

  it('adds a viewer who can read but not change anything', async () => {
    // A logger for the viewer to look at.
    const line = new Device(server, 'esp32-BEEF01');
    await line.register([{ pin_number: 1, asset_name: 'Mill 1' }], 'Mill line');
    await page.getByRole('link', { name: 'Loggers' }).click();
    await page.getByLabel('Logger id').fill('esp32-BEEF01');
    await page.getByLabel('Claim code').fill(line.claimCode!);
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.getByRole('heading', { name: 'Mill line' }).waitFor();
    await line.state(1, true, Date.now() - 60_000);
    await line.state(1, false, Date.now() - 30_000);

    await page.getByRole('link', { name: 'People' }).click();
    await page.getByLabel('Email').fill('val@plant.example');
    await page.getByLabel(/First password/).fill('viewer of the plant');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Add person' }).click();
    await page.getByText('val@plant.example can now sign in as viewer').waitFor();
    await screenshot(page, 'people');
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();

    await signIn(page, 'val@plant.example', 'viewer of the plant');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link').allInnerTexts()).resolves.toEqual(['Board', 'Timeline', 'Analytics', 'Stops', 'Station', 'Alerts', 'Loggers']);

    await nav.getByRole('link', { name: 'Loggers' }).click();
    await page.getByRole('heading', { name: 'Mill line' }).waitFor();
    for (const name of ['Claim', 'Rename', 'Rotate key', 'Delete']) {
      await expect(page.getByRole('button', { name }).count()).resolves.toBe(0);
    }
    await expect(page.getByLabel('Allow keyless reports').count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: /^Edit/ }).count()).resolves.toBe(0);

    await nav.getByRole('link', { name: 'Stops' }).click();
    await page.locator('#stops tbody tr', { hasText: 'Mill 1' }).waitFor();
    // Viewers may sort (the header's buttons), and change nothing in the rows.
    await expect(page.locator('#stops tbody select, #stops tbody input, #stops tbody button').count()).resolves.toBe(0);
    await page.getByText('You can read stops; operators and admins give them reasons.').waitFor();
    await screenshot(page, 'viewer-stops');
    expect(await accessibilityProblems(page)).toEqual([]);

    // Typing the address of an admin page does not help either.
    await page.goto('/settings');
    await page.getByText('This page is for admins.').waitFor();
    expect(errors).toEqual([]);
  });

  it("changes a person's role, which holds at once, but not the admin's own", async () => {
    const { context, page: admin, errors: adminErrors } = await openPage(browser, server);
    await signIn(admin, 'boss@plant.example', 'a long boss password');
    await admin.getByRole('link', { name: 'People' }).click();
    const role = admin.getByRole('combobox', { name: 'Role of val@plant.example' });
    await expect(role.inputValue()).resolves.toBe('viewer');
    // The admin's own role is not offered for change here.
    await expect(admin.getByRole('combobox', { name: 'Role of boss@plant.example' }).count()).resolves.toBe(0);

    await role.selectOption('operator');
    const roleOf = async (email: string) =>
      (await api.get<{ email: string; role: string }[]>('/api/v1/users')).find((u) => u.email === email)?.role;
    await expect.poll(() => roleOf('val@plant.example')).toBe('operator');
    // The viewer's open tab, still signed in, shows the new role without a reload (the server
    // closed its live socket, and the tab asked who it is now), and its pages follow it.
    await page.locator('header .role', { hasText: '(operator)' }).waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'Stops' }).click();
    await page.locator('#stops tbody tr', { hasText: 'Mill 1' }).waitFor();
    await expect(page.getByText('You can read stops; operators and admins give them reasons.').count()).resolves.toBe(0);
    await screenshot(admin, 'people-role-changed');
    await admin.reload();
    await expect(admin.getByRole('combobox', { name: 'Role of val@plant.example' }).inputValue()).resolves.toBe('operator');
    expect(await accessibilityProblems(admin)).toEqual([]);

    // Back to viewer, as the next test expects.
    await admin.getByRole('combobox', { name: 'Role of val@plant.example' }).selectOption('viewer');
    await expect.poll(() => roleOf('val@plant.example')).toBe('viewer');
    await page.locator('header .role', { hasText: '(viewer)' }).waitFor();
    await page.getByText('You can read stops; operators and admins give them reasons.').waitFor();
    expect(adminErrors).toEqual([]);
    await context.close();
  });

  it('removes a person after asking: signed out at once, and they cannot sign in again', async () => {
    // The viewer is still signed in on `page`; an admin works in another browser.
    const { context, page: admin, errors: adminErrors } = await openPage(browser, server);
    await signIn(admin, 'boss@plant.example', 'a long boss password');
    await admin.getByRole('link', { name: 'People' }).click();
    const rows = admin.locator('#people tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    // Nobody removes themselves here: that is another admin's job.
    await expect(admin.getByRole('button', { name: 'Remove boss@plant.example' }).count()).resolves.toBe(0);

    await admin.getByRole('button', { name: 'Remove val@plant.example' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Remove val@plant.example?' });
    await dialog.getByText('They are signed out everywhere at once').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect(rows.count()).resolves.toBe(2);

    await admin.getByRole('button', { name: 'Remove val@plant.example' }).click();
    await screenshot(admin, 'people-remove-confirm');
    await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
    await expect.poll(() => rows.count()).toBe(1);
    await expect(rows.innerText()).resolves.toContain('boss@plant.example');
    await expect(api.get<{ email: string }[]>('/api/v1/users').then((l) => l.map((u) => u.email))).resolves.toEqual(['boss@plant.example']);
    await screenshot(admin, 'people-removed');
    expect(await accessibilityProblems(admin)).toEqual([]);

    // The viewer's open tab goes to the sign-in page by itself: the server closed its live socket.
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText('Your session has ended. Sign in again.').waitFor();
    // And their password no longer opens the door.
    await page.getByLabel('Email').fill('val@plant.example');
    await page.getByLabel('Password').fill('viewer of the plant');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong email or password' }).waitFor();
    await expect(page.getByRole('heading', { name: 'Live board' }).count()).resolves.toBe(0);
    await screenshot(page, 'people-removed-sign-in');
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'val@plant.example', password: 'viewer of the plant' }),
    });
    expect(login.status).toBe(401);
    expect(adminErrors).toEqual([]);
    await context.close();
  });
});
