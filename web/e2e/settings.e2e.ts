// The settings forms say what is wrong at the field it is about, and ask before unsaved edits are
// left behind. Shifts: two shifts that overlap are refused by the server and the refusal shows at
// both shifts' hours, with nothing stored; a time that is not HH:MM is caught at its field before
// anything is sent. Leaving with edits asks (a link in the app: window.confirm; a reload:
// beforeunload), staying keeps the edits, and once they are saved or undone nothing asks. The
// reasons and the alert channels show their refusals at the field named too.

import type { Browser, Dialog, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityProblems, type Server, launchBrowser, openPage, screenshot, signIn, signUpByApi, startServer, userApi } from './harness';

let browser: Browser;
let server: Server;
let page: Page;
let errors: string[];
let api: ReturnType<typeof userApi>;

const EARLY = { name: 'Early', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '06:00', end: '14:00', breaks: [{ start: '10:00', end: '10:15' }] };

/** The dialogs the page opened, answered as `answer` says (Playwright would dismiss them unseen). */
const dialogs: { type: string; message: string }[] = [];
let answer: 'accept' | 'dismiss' = 'dismiss';

/** The shifts form. */
const shiftsForm = () => page.locator('form[aria-labelledby="shifts-title"]');
const shift = (n: number) => page.getByRole('group', { name: `Shift ${n}`, exact: true });
const field = (group: Locator, label: string) => group.getByLabel(label, { exact: true });

/** What a screen reader reads as a field's description: the texts its aria-describedby names. */
function description(el: Locator): Promise<string> {
  return el.evaluate((node) =>
    (node.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent ?? `(no #${id})`)
      .join(' | '),
  );
}

const isFocused = (el: Locator) => el.evaluate((node) => node === document.activeElement);

/** Shift PUTs the page sends from now on. */
function countShiftSaves(): { count: () => number } {
  let n = 0;
  page.on('request', (r) => {
    if (r.method() === 'PUT' && new URL(r.url()).pathname === '/api/v1/shifts') n += 1;
  });
  return { count: () => n };
}

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer();
  const { token } = await signUpByApi(server);
  api = userApi(server, token);
  await api.put('/api/v1/shifts', [EARLY]);
  ({ page, errors } = await openPage(browser, server));
  page.on('dialog', (d: Dialog) => {
    dialogs.push({ type: d.type(), message: d.message() });
    void (answer === 'accept' ? d.accept() : d.dismiss());
  });
  await signIn(page, 'ada@plant.example', 'correct horse battery');
  await page.getByRole('link', { name: 'Settings' }).click();
  await field(shift(1), 'Name').waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('settings: messages at the fields', () => {
  it('shows the refusal of two overlapping shifts at both shifts, and stores nothing', async () => {
    const before = await api.get('/api/v1/shifts');
    const calendars = await api.get('/api/v1/shift-calendars');
    await page.getByRole('button', { name: 'Add shift' }).click();
    await field(shift(2), 'Name').fill('Late');
    // An hour before Early ends.
    await field(shift(2), 'Starts').fill('13:00');
    const refused = page.waitForResponse((r) => r.request().method() === 'PUT' && new URL(r.url()).pathname === '/api/v1/shifts');
    await page.getByRole('button', { name: 'Save shifts' }).click();
    expect((await refused).status()).toBe(400);

    const messages = { 1: 'Overlaps Late on Monday: change the hours or the days of one of them', 2: 'Overlaps Early on Monday: change the hours or the days of one of them' };
    for (const n of [1, 2] as const) {
      const group = shift(n);
      await group.getByText(messages[n]).waitFor();
      await expect(group.getAttribute('aria-invalid')).resolves.toBe('true');
      for (const label of ['Starts', 'Ends']) {
        await expect(field(group, label).getAttribute('aria-invalid'), `${label} of shift ${n}`).resolves.toBe('true');
        await expect(description(field(group, label))).resolves.toBe(messages[n]);
      }
      // Nothing else in the shift is marked.
      await expect(field(group, 'Name').getAttribute('aria-invalid')).resolves.toBeNull();
    }
    // The summary under the form keeps the server's words; the first marked field has the focus.
    await shiftsForm().getByRole('alert').filter({ hasText: 'Not saved: shifts overlap: Early and Late' }).waitFor();
    await expect(isFocused(field(shift(1), 'Starts'))).resolves.toBe(true);
    await expect(api.get('/api/v1/shifts')).resolves.toEqual(before);
    await expect(api.get('/api/v1/shift-calendars')).resolves.toEqual(calendars);

    await shift(2).scrollIntoViewIfNeeded();
    await screenshot(page, 'settings-field-errors', false);
    expect(await accessibilityProblems(page)).toEqual([]);

    // Late after Early: the messages about their hours go with the change.
    await field(shift(2), 'Starts').fill('14:00');
    await expect(field(shift(1), 'Starts').getAttribute('aria-invalid')).resolves.toBeNull();
    await expect(shift(1).getByText(messages[1]).count()).resolves.toBe(0);
    await expect(shiftsForm().getByRole('alert').count()).resolves.toBe(0);
  });

  it('says at the field, before sending anything, that a time must look like 14:00', async () => {
    const saves = countShiftSaves();
    const ends = field(shift(2), 'Ends');
    await ends.fill('2pm');
    await page.getByRole('button', { name: 'Save shifts' }).click();
    const message = 'End must be a time like 14:00';
    await shift(2).getByText(message).waitFor();
    await expect(ends.getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(description(ends)).resolves.toBe(message);
    await expect(isFocused(ends)).resolves.toBe(true);
    await shiftsForm().getByRole('alert').filter({ hasText: `Not saved: Shift 2 (Late): ${message}.` }).waitFor();
    expect(saves.count()).toBe(0);

    // A break's time is checked when the field is left, without a save.
    const breakEnd = field(shift(1), 'to');
    await breakEnd.fill('1015');
    await breakEnd.press('Tab');
    await shift(1).getByText('Break end must be a time like 10:15').waitFor();
    await expect(breakEnd.getAttribute('aria-invalid')).resolves.toBe('true');
    await breakEnd.fill('10:15');
    await expect(breakEnd.getAttribute('aria-invalid')).resolves.toBeNull();

    // Put right, the messages and the summary go.
    await ends.fill('22:00');
    await expect(ends.getAttribute('aria-invalid')).resolves.toBeNull();
    await expect(shift(2).getByText(message).count()).resolves.toBe(0);
    await expect(shiftsForm().getByRole('alert').count()).resolves.toBe(0);
    expect(saves.count()).toBe(0);
    expect(await accessibilityProblems(page)).toEqual([]);
  });

  it('shows a refusal of a downtime reason at the field it names', async () => {
    const form = page.getByRole('form', { name: 'Add a reason' });
    const category = form.getByLabel('Category');
    const reason = form.getByLabel('Reason', { exact: true });
    // Only spaces: the browser takes it as filled, the server does not.
    await category.fill('   ');
    await reason.fill('Jam');
    await form.getByRole('button', { name: 'Add reason' }).click();
    const empty = 'Category must be 1 to 100 printable characters';
    await form.getByText(empty).waitFor();
    await expect(category.getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(description(category)).resolves.toBe(empty);
    await expect(isFocused(category)).resolves.toBe(true);

    await category.fill('Material');
    await expect(category.getAttribute('aria-invalid')).resolves.toBeNull();
    await form.getByRole('button', { name: 'Add reason' }).click();
    await page.locator('#reasons td', { hasText: 'Jam' }).waitFor();
    // The same again: the server says it exists, and that is about its name.
    await reason.fill('Jam');
    await form.getByRole('button', { name: 'Add reason' }).click();
    const taken = 'That reason exists already in that category';
    await form.getByText(taken).waitFor();
    await expect(reason.getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(description(reason)).resolves.toBe(taken);
    await expect(category.getAttribute('aria-invalid')).resolves.toBeNull();
    expect(await accessibilityProblems(page)).toEqual([]);
    await reason.fill('');
  });
});

describe('settings: unsaved edits', () => {
  it('asks before another page while the shifts have edits: staying keeps them, leaving drops them', async () => {
    // Late is added on the page, not saved.
    await expect(field(shift(2), 'Name').inputValue()).resolves.toBe('Late');
    const seen = dialogs.length;
    answer = 'dismiss';
    await page.getByRole('link', { name: 'Analytics' }).click();
    await expect.poll(() => dialogs.length).toBe(seen + 1);
    expect(dialogs[seen]).toEqual({ type: 'confirm', message: 'You have unsaved changes to the shifts. Leave without saving?' });
    expect(new URL(page.url()).pathname).toBe('/settings');
    await expect(field(shift(2), 'Name').inputValue()).resolves.toBe('Late');

    answer = 'accept';
    await page.getByRole('link', { name: 'Analytics' }).click();
    await page.getByRole('heading', { name: 'Analytics', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/analytics');
    expect(dialogs).toHaveLength(seen + 2);

    // Back in settings the calendar is the stored one, and leaving the analytics page asked nothing.
    await page.getByRole('link', { name: 'Settings' }).click();
    await field(shift(1), 'Name').waitFor();
    await expect(shift(2).count()).resolves.toBe(0);
    expect(dialogs).toHaveLength(seen + 2);
  });

  it('asks before a reload while there are edits, and not once they are undone', async () => {
    await page.getByRole('button', { name: 'Add shift' }).click();
    await field(shift(2), 'Name').fill('Late');
    const seen = dialogs.length;
    answer = 'dismiss';
    await page.evaluate(() => window.location.reload());
    await expect.poll(() => dialogs.length).toBe(seen + 1);
    expect(dialogs[seen]!.type).toBe('beforeunload');
    // Stayed: the edit is still there.
    await expect(field(shift(2), 'Name').inputValue()).resolves.toBe('Late');

    // Undone by hand: nothing is unsaved, and the reload asks nothing.
    await page.getByRole('button', { name: 'Remove shift 2' }).click();
    answer = 'accept';
    await page.reload();
    await field(shift(1), 'Name').waitFor();
    expect(dialogs).toHaveLength(seen + 1);
  });

  it('asks nothing once the edits are saved, and the calendar applies from the day chosen', async () => {
    await page.getByRole('button', { name: 'Add shift' }).click();
    await field(shift(2), 'Name').fill('Late');
    const today = await page.getByLabel('Applies from').inputValue();
    await page.getByRole('button', { name: 'Save shifts' }).click();
    await page.locator('#shifts-title ~ .row [role="status"]').filter({ hasText: 'Saved.' }).waitFor();
    await expect(api.get<{ name: string }[]>('/api/v1/shifts')).resolves.toMatchObject([{ name: 'Early' }, { name: 'Late', start: '14:00', end: '22:00' }]);
    await expect(page.locator('#calendar-history li').last().innerText()).resolves.toContain(`from ${today}`);
    await expect(page.locator('#calendar-history li').last().innerText()).resolves.toContain('Late 14:00–22:00');

    const seen = dialogs.length;
    answer = 'dismiss';
    await page.getByRole('link', { name: 'Board' }).click();
    await page.getByRole('heading', { name: 'Live board' }).waitFor();
    expect(dialogs).toHaveLength(seen);
  });

  it('asks for any settings form with edits, naming it, and not once it is emptied again', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    const channel = page.getByRole('form', { name: 'Add a channel' });
    await channel.getByLabel('Name').fill('Ops hook');
    // The form's own check of the URL speaks at the URL.
    const url = channel.getByLabel('URL');
    await url.fill('ftp://plant.example/hook');
    await channel.getByRole('button', { name: 'Add channel' }).click();
    await channel.getByText('It starts with http:// or https://.', { exact: true }).waitFor();
    await expect(url.getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(description(url)).resolves.toBe('It starts with http:// or https://.');
    await expect(isFocused(url)).resolves.toBe(true);
    const seen = dialogs.length;
    answer = 'dismiss';
    await page.getByRole('link', { name: 'Board' }).click();
    await expect.poll(() => dialogs.length).toBe(seen + 1);
    expect(dialogs[seen]!.message).toBe('You have unsaved changes to a new alert channel. Leave without saving?');
    expect(new URL(page.url()).pathname).toBe('/settings');

    await channel.getByLabel('Name').fill('');
    await url.fill('');
    await page.getByRole('link', { name: 'Board' }).click();
    await page.getByRole('heading', { name: 'Live board' }).waitFor();
    expect(dialogs).toHaveLength(seen + 1);
    expect(errors).toEqual([]);
  });
});
