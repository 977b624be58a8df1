// Planned downtime as the settings form makes and lists it: a one-off span ("7 Dec 2026, 12:00–
// 13:00") or weekly times ("Every Fri 13:00–14:00 (from 7 Dec 2026)"), all wall-clock times in
// the tenant's zone. Apart from the page, so that it is tested without a browser.

import type { PlannedDowntime, PlannedDowntimeBody } from './api';
import { instantOf, isTime, type LocalDateTime } from './datetime';
import { formatDateTime, formatTime, localDate, localDaySpan } from './time';

/** The days as the API names them, Monday first, with the words the form shows. */
export const DAYS: [string, string][] = [
  ['mon', 'Mon'],
  ['tue', 'Tue'],
  ['wed', 'Wed'],
  ['thu', 'Thu'],
  ['fri', 'Fri'],
  ['sat', 'Sat'],
  ['sun', 'Sun'],
];

/** What the form holds. */
export interface DowntimeForm {
  /** "" for all machines. */
  assetId: string;
  repeat: 'once' | 'weekly';
  from: LocalDateTime;
  to: LocalDateTime;
  days: string[];
  start: string;
  end: string;
  /** Weekly: the first local day it applies on ("": from now on). */
  firstDay: string;
  /** Weekly: the last local day it applies on ("": for good). */
  lastDay: string;
  note: string;
}

export const EMPTY_FORM: DowntimeForm = {
  assetId: '',
  repeat: 'once',
  from: { date: '', time: '' },
  to: { date: '', time: '' },
  days: [],
  start: '',
  end: '',
  firstDay: '',
  lastDay: '',
  note: '',
};

/** `days` with `day` in or out, in the week's order. */
export function withDay(days: readonly string[], day: string, on: boolean): string[] {
  return DAYS.map(([d]) => d).filter((d) => (d === day ? on : days.includes(d)));
}

/**
 * The body to post for what the form holds, times read in `zone`; throws a sentence for the
 * form's error note when something is missing or cannot be.
 */
export function downtimeBody(form: DowntimeForm, zone: string): PlannedDowntimeBody {
  const asset_id = form.assetId ? Number(form.assetId) : null;
  const note = form.note;
  if (form.repeat === 'once') {
    const from = instantOf(form.from, zone, 'From');
    const to = instantOf(form.to, zone, 'To');
    if (to <= from) throw new Error('The end is not after the start.');
    return { asset_id, note, from, to };
  }
  if (form.days.length === 0) throw new Error('Choose the days of the week it is on.');
  for (const [what, time] of [
    ['Starts', form.start],
    ['Ends', form.end],
  ] as const) {
    if (!isTime(time)) throw new Error(`${what}: give the time in 24 h as HH:MM, e.g. 13:00.`);
  }
  const body: Extract<PlannedDowntimeBody, { weekly: unknown }> = { asset_id, note, weekly: { days: [...form.days], start: form.start, end: form.end } };
  if (form.firstDay) body.from = localDaySpan(form.firstDay, zone).from;
  if (form.lastDay) {
    body.to = localDaySpan(form.lastDay, zone).to;
    if (form.firstDay && form.lastDay < form.firstDay) throw new Error('The last day is before the first day.');
  }
  return body;
}

/** "Fri", "Mon, Wed, Fri", "Mon–Fri", "Every day" as the list says them; three days or more in a row make a range. */
export function daysText(days: readonly string[]): string {
  const order = DAYS.map(([d]) => d);
  const index = [...new Set(days.map((d) => order.indexOf(d.trim().toLowerCase())).filter((i) => i >= 0))].sort((a, b) => a - b);
  if (index.length === 7) return 'day';
  const runs: number[][] = [];
  for (const i of index) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1] === i - 1) run.push(i);
    else runs.push([i]);
  }
  const word = (i: number) => DAYS[i]![1];
  return runs.map((r) => (r.length >= 3 ? `${word(r[0]!)}–${word(r[r.length - 1]!)}` : r.map(word).join(', '))).join(', ');
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** "7 Dec 2026" in `zone`. */
function formatDate(ms: number, zone: string, locale?: string): string {
  const key = `${locale ?? ''}|${zone}`;
  let f = dayFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric', timeZone: zone });
    dayFormats.set(key, f);
  }
  return f.format(ms);
}

/** A day boundary, as a date at local midnight and as a date and time otherwise. */
function boundary(ms: number, zone: string, locale?: string): string {
  return localDaySpan(localDate(ms, zone), zone).from === ms ? formatDate(ms, zone, locale) : formatDateTime(ms, zone, locale);
}

/**
 * When a planned downtime is, for the list: "7 Dec 2026, 12:00–13:00" (one-off, one day),
 * "7 Dec 2026, 22:00 – 8 Dec 2026, 06:00", or "Every Fri 13:00–14:00 (from 7 Dec 2026)",
 * "… (7 Dec 2026 to 31 Jan 2027)" for a weekly one that ends.
 */
export function whenText(d: Pick<PlannedDowntime, 'from' | 'to' | 'weekly'>, zone: string, locale?: string): string {
  if (!d.weekly) {
    const from = formatDateTime(d.from, zone, locale);
    if (d.to === null) return `from ${from}`;
    return localDate(d.from, zone) === localDate(d.to, zone) ? `${from}–${formatTime(d.to, zone, locale, false)}` : `${from} – ${formatDateTime(d.to, zone, locale)}`;
  }
  const w = d.weekly;
  const times = `Every ${daysText(w.days)} ${w.start}–${w.end}`;
  if (d.to === null) return `${times} (from ${boundary(d.from, zone, locale)})`;
  // A last day is given as the midnight after it.
  const atMidnight = localDaySpan(localDate(d.to, zone), zone).from === d.to;
  const last = atMidnight ? formatDate(d.to - 1, zone, locale) : formatDateTime(d.to, zone, locale);
  return `${times} (${boundary(d.from, zone, locale)} to ${last})`;
}

/** The name of a planned downtime's Remove button: "Remove planned downtime from 7 Dec 2026, 12:00", "… every Fri 13:00–14:00 (from …)". */
export function removeLabel(d: Pick<PlannedDowntime, 'from' | 'to' | 'weekly'>, zone: string, locale?: string): string {
  return d.weekly ? `Remove planned downtime every ${whenText(d, zone, locale).replace(/^Every /, '')}` : `Remove planned downtime from ${formatDateTime(d.from, zone, locale)}`;
}
