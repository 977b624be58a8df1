// Shift reports the way a plant manager sets them up: a daily report for two shift leads on one
// machine, listed with what it sends and to whom, changed to weekly, deleted after asking; a
// report at the end of each shift refused while the plant has no shift calendar; and, on a
// server without mail settings, the refusal in the server's words. Nothing is sent: the server's
// SMTP address (port 1) answers nobody, and no period ends during the test.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityProblems, Device, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi } from './harness';

interface Report {
  id: number;
  name: string;
  schedule: string;
  to: string[];
  asset_ids: number[] | null;
  last_period_end: number | null;
}

let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let api: ReturnType<typeof userApi>;
let token: string;

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer({ enrollment: 'auto', smtpUrl: 'smtp://127.0.0.1:1' });
  ({ token } = await signUpByApi(server, 'ada@plant.example', 'correct horse battery', 'Plant A'));
  api = userApi(server, token);
  const device = new Device(server, 'esp32-A1E47');
  await device.register(
    [
      { pin_number: 1, asset_name: 'Press 1' },
      { pin_number: 2, asset_name: 'Press 2' },
    ],
    'Line 1',
  );
  await device.state(1, true);
  await device.state(2, true);
  ({ page, errors } = await openPage(browser, server));
  await signIn(page, 'ada@plant.example', 'correct horse battery');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** What the server answers a report it refuses, to compare the page's words with. */
async function refusal(on: Server, bearer: string, body: unknown): Promise<{ status: number; code: string; message: string }> {
  const response = await fetch(`${on.url}/api/v1/reports`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, ...answer.error };
}

const row = () => page.locator('#report-list tbody tr', { hasText: 'Shift leads' });

describe('reports', () => {
  it('adds a daily report for two addresses on one machine', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Reports', exact: true }).waitFor();
    await page.getByText('No reports yet.').waitFor();
    const form = page.getByRole('form', { name: 'Add a report' });
    await form.getByLabel('Name').fill('Shift leads');
    await form.getByRole('combobox', { name: /^Schedule/ }).selectOption('daily');
    await form.getByText('One email per day').waitFor();
    await form.getByLabel(/^Send to/).fill('ada@plant.example,\nbob@plant.example');
    await form.getByRole('radio', { name: 'Chosen machines' }).check();
    await form.getByRole('group', { name: 'Chosen machines' }).getByLabel('Press 1').check();
    await form.getByRole('button', { name: 'Add report' }).click();

    await row().waitFor();
    const text = await row().innerText();
    expect(text).toContain('Daily');
    expect(text).toContain('ada@plant.example, bob@plant.example');
    expect(text).toContain('Press 1');
    expect(text).not.toContain('Press 2');
    expect(text).toContain('Not yet');
    // The form is empty again, for the next one.
    await expect(form.getByLabel('Name').inputValue()).resolves.toBe('');

    const assets = await api.get<{ id: number; name: string }[]>('/api/v1/assets');
    const press1 = assets.find((a) => a.name === 'Press 1')!.id;
    const reports = await api.get<Report[]>('/api/v1/reports');
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      name: 'Shift leads',
      schedule: 'daily',
      to: ['ada@plant.example', 'bob@plant.example'],
      asset_ids: [press1],
      last_period_end: null,
    });
    await screenshot(page, 'reports');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('refuses a report at the end of each shift while there is no shift calendar, in the server’s words', async () => {
    const expected = await refusal(server, token, { name: 'Each shift', schedule: 'end_of_each_shift', to: ['ada@plant.example'], asset_ids: null });
    expect(expected.code).toBe('no_shifts');
    expect(expected.status).toBeGreaterThanOrEqual(400);
    expect(expected.status).toBeLessThan(500);
    // The page's own attempt: its default schedule is the end of each shift.
    const form = page.getByRole('form', { name: 'Add a report' });
    await form.getByLabel('Name').fill('Each shift');
    await expect(form.getByRole('combobox', { name: /^Schedule/ }).inputValue()).resolves.toBe('end_of_each_shift');
    await form.getByLabel(/^Send to/).fill('ada@plant.example');
    await form.getByRole('button', { name: 'Add report' }).click();
    await form.getByRole('alert').filter({ hasText: expected.message }).waitFor();
    await expect(page.locator('#report-list tbody tr').count()).resolves.toBe(1);
    // What was typed stays, to change the schedule and try again.
    await expect(form.getByLabel('Name').inputValue()).resolves.toBe('Each shift');
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('edits it to weekly', async () => {
    await row().getByRole('button', { name: 'Edit report Shift leads' }).click();
    const form = page.getByRole('form', { name: 'Edit the report “Shift leads”' });
    // The form holds the report as stored, with the focus in its first field.
    await expect(form.getByLabel('Name').evaluate((el) => el === document.activeElement)).resolves.toBe(true);
    await expect(form.getByLabel(/^Send to/).inputValue()).resolves.toBe('ada@plant.example, bob@plant.example');
    await expect(form.getByRole('group', { name: 'Chosen machines' }).getByLabel('Press 1').isChecked()).resolves.toBe(true);
    await form.getByRole('combobox', { name: /^Schedule/ }).selectOption('weekly');
    await form.getByRole('button', { name: 'Save report' }).click();

    await page.getByRole('form', { name: 'Add a report' }).waitFor();
    await row().filter({ hasText: 'Weekly' }).waitFor();
    await expect(row().innerText()).resolves.toContain('ada@plant.example, bob@plant.example');
    const reports = await api.get<Report[]>('/api/v1/reports');
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ schedule: 'weekly', to: ['ada@plant.example', 'bob@plant.example'] });
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('deletes it after asking', async () => {
    await row().getByRole('button', { name: 'Delete report Shift leads' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the report “Shift leads”?' });
    await dialog.waitFor();
    expect(await accessibilityProblems(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Delete report' }).click();
    await page.getByText('No reports yet.').waitFor();
    await expect(api.get<Report[]>('/api/v1/reports')).resolves.toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('reports on a server without mail settings', () => {
  let bare: Server;
  let barePage: Page;
  let bareErrors: string[];
  let bareToken: string;

  beforeAll(async () => {
    bare = await startServer();
    ({ token: bareToken } = await signUpByApi(bare, 'bob@plant.example', 'another long password', 'Plant B'));
    ({ page: barePage, errors: bareErrors } = await openPage(browser, bare));
    await signIn(barePage, 'bob@plant.example', 'another long password');
  });

  afterAll(async () => {
    await barePage?.context().close();
    await bare?.stop();
  });

  it('shows the server’s refusal and keeps nothing', async () => {
    const expected = await refusal(bare, bareToken, { name: 'Daily', schedule: 'daily', to: ['bob@plant.example'], asset_ids: null });
    expect(expected.code).toBe('smtp_not_configured');
    expect(expected.message).toMatch(/--smtp-url/);

    await barePage.getByRole('link', { name: 'Settings' }).click();
    await barePage.getByText('No reports yet.').waitFor();
    const form = barePage.getByRole('form', { name: 'Add a report' });
    await form.getByLabel('Name').fill('Daily');
    await form.getByRole('combobox', { name: /^Schedule/ }).selectOption('daily');
    await form.getByLabel(/^Send to/).fill('bob@plant.example');
    await form.getByRole('button', { name: 'Add report' }).click();
    await form.getByRole('alert').filter({ hasText: expected.message }).waitFor();
    await expect(barePage.getByText('No reports yet.').count()).resolves.toBe(1);
    await expect(userApi(bare, bareToken).get<Report[]>('/api/v1/reports')).resolves.toEqual([]);
    await screenshot(barePage, 'reports-no-smtp');
    expect(await accessibilityProblems(barePage)).toEqual([]);
    expect(bareErrors).toEqual([]);
  });
});
