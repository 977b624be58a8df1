// Wall-clock time in the tenant's time zone. The server cuts analytics buckets in the tenant's
// IANA zone; the dashboard must name the same days and weeks, whatever zone the browser is in.
// Arithmetic (start of day, adding days across daylight saving) is date-fns with @date-fns/tz;
// display is the browser's Intl.DateTimeFormat with an explicit timeZone.

import { TZDateMini } from '@date-fns/tz';
import { addDays, startOfDay, startOfWeek } from 'date-fns';

/** A half-open span of UTC epoch milliseconds, `[from, to)`. */
export interface Span {
  from: number;
  to: number;
}

export type PeriodKind = 'today' | 'yesterday' | 'this_week' | 'last_7' | 'last_30' | 'custom';

export const PERIODS: { kind: PeriodKind; label: string }[] = [
  { kind: 'today', label: 'Today' },
  { kind: 'yesterday', label: 'Yesterday' },
  { kind: 'this_week', label: 'This week' },
  { kind: 'last_7', label: 'Last 7 days' },
  { kind: 'last_30', label: 'Last 30 days' },
  { kind: 'custom', label: 'Custom' },
];

function zoned(ms: number, zone: string): Date {
  return new TZDateMini(ms, zone);
}

/** Local midnight (in `zone`) of the day that contains `ms`. */
export function dayStart(ms: number, zone: string): number {
  return startOfDay(zoned(ms, zone)).getTime();
}

/** The local day `[midnight, next midnight)` containing `ms`: 23 or 25 hours on change days. */
export function daySpan(ms: number, zone: string): Span {
  const start = startOfDay(zoned(ms, zone));
  return { from: start.getTime(), to: addDays(start, 1).getTime() };
}

/** The local day named by `YYYY-MM-DD` in `zone`. */
export function localDaySpan(date: string, zone: string): Span {
  const [y, m, d] = parseDate(date);
  const start = new TZDateMini(y, m - 1, d, zone);
  return { from: start.getTime(), to: addDays(start, 1).getTime() };
}

function parseDate(date: string): [number, number, number] {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) throw new Error(`not a date: ${date}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * The window of a named period, as the tenant sees it. Weeks start on Monday, as the server's
 * week buckets do. "Last 7 days" is today and the six days before it.
 */
export function periodSpan(
  kind: PeriodKind,
  now: number,
  zone: string,
  custom?: { from: string; to: string },
): Span {
  const today = startOfDay(zoned(now, zone));
  switch (kind) {
    case 'today':
      return { from: today.getTime(), to: addDays(today, 1).getTime() };
    case 'yesterday':
      return { from: addDays(today, -1).getTime(), to: today.getTime() };
    case 'this_week': {
      const monday = startOfWeek(today, { weekStartsOn: 1 });
      return { from: monday.getTime(), to: addDays(monday, 7).getTime() };
    }
    case 'last_7':
      return { from: addDays(today, -6).getTime(), to: addDays(today, 1).getTime() };
    case 'last_30':
      return { from: addDays(today, -29).getTime(), to: addDays(today, 1).getTime() };
    case 'custom': {
      if (!custom) throw new Error('a custom period needs dates');
      const from = localDaySpan(custom.from, zone).from;
      const to = localDaySpan(custom.to, zone).to;
      if (to <= from) throw new Error('the end date is before the start date');
      return { from, to };
    }
  }
}

/** `YYYY-MM-DD` of the local day containing `ms` (for date inputs). */
export function localDate(ms: number, zone: string): string {
  const d = zoned(ms, zone);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `YYYY-MM-DDTHH:MM` of `ms` in `zone` (for datetime-local inputs). */
export function localDateTime(ms: number, zone: string): string {
  const d = zoned(ms, zone);
  return `${localDate(ms, zone)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The instant a `YYYY-MM-DDTHH:MM[:SS]` wall-clock time names in `zone`. A time skipped by
 * spring-forward moves past the gap; one repeated by fall-back takes its first occurrence.
 */
export function parseLocalDateTime(value: string, zone: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!match) throw new Error(`not a date and time: ${value}`);
  const [y, mo, d, h, mi, s] = match.slice(1).map((v) => Number(v ?? 0)) as number[];
  return new TZDateMini(y!, mo! - 1, d!, h!, mi!, s!, zone).getTime();
}

/**
 * The span of a shift `start`–`end` (HH:MM, local) beginning on the local day `date`; a shift
 * that ends at or before its start ends the next day. Daylight saving makes it an hour shorter
 * or longer, as the server's calendar does.
 */
export function shiftSpan(date: string, start: string, end: string, zone: string): Span {
  const from = parseLocalDateTime(`${date}T${start}`, zone);
  let endDate = date;
  if (end <= start) {
    const [y, m, d] = parseDate(date);
    const next = addDays(new TZDateMini(y, m - 1, d, 12, 0, 0, zone), 1);
    endDate = localDate(next.getTime(), zone);
  }
  return { from, to: parseLocalDateTime(`${endDate}T${end}`, zone) };
}

/** Weekday of a `YYYY-MM-DD` date as the shift calendar names it: mon … sun. */
export function weekdayOf(date: string): string {
  const [y, m, d] = parseDate(date);
  return ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date(Date.UTC(y, m - 1, d)).getUTCDay()]!;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string, options: Intl.DateTimeFormatOptions, locale?: string) {
  const key = `${locale ?? ''}|${zone}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { ...options, timeZone: zone });
    formatters.set(key, f);
  }
  return f;
}

/** "24 Nov 2025, 17:00" in the tenant's zone. */
export function formatDateTime(ms: number, zone: string, locale?: string): string {
  return formatter(
    zone,
    { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
    locale,
  ).format(ms);
}

/** "17:00:04" in the tenant's zone. */
export function formatTime(ms: number, zone: string, locale?: string, seconds = true): string {
  return formatter(
    zone,
    { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23' },
    locale,
  ).format(ms);
}

/** "Mon 24 Nov" in the tenant's zone. */
export function formatDay(ms: number, zone: string, locale?: string): string {
  return formatter(zone, { weekday: 'short', day: 'numeric', month: 'short' }, locale).format(ms);
}

/** Whether `zone` is an IANA zone this browser knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The zones to offer in a picker (the browser's list, always including UTC and `current`). */
export function timeZones(current?: string): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const list = intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
  const all = new Set(['UTC', ...list]);
  if (current) all.add(current);
  return [...all].sort();
}
