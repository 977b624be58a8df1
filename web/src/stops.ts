// What the stops page works out, apart from the page so that it is tested without a browser:
// the order of the rows, the stops picked to get one reason at once, the words that say how that
// went, and the CSV of the period.

import type { Stop } from './api';
import type { Sort } from './sort';
import { formatDateTime, localDate, type Span } from './time';

export type StopSortKey = 'start' | 'duration';
export type StopSort = Sort<StopSortKey>;

/** The page opens with the newest stop on top, as the API lists them. */
export const NEWEST_FIRST: StopSort = { key: 'start', dir: -1 };

/** How a stop part is named on its buttons and fields: "Press 1, 24 Nov 2025, 09:00". */
export function stopLabel(asset: string, start: number, zone: string): string {
  return `${asset}, ${formatDateTime(start, zone)}`;
}

/** How long a stop part has lasted: an ongoing one grows while the page is open. */
export function shownDuration(stop: Stop, now: number): number {
  return stop.ongoing ? Math.max(stop.duration_ms, now - stop.start) : stop.duration_ms;
}

/**
 * The rows in the order asked for, durations as shown at `now`. Ties keep the API's order
 * (newest first, then by machine), so rows do not swap places on every re-read.
 */
export function sortStops(stops: readonly Stop[], sort: StopSort, now: number): Stop[] {
  const value = (s: Stop) => (sort.key === 'start' ? s.start : shownDuration(s, now));
  return [...stops].sort((a, b) => (value(a) - value(b)) * sort.dir || b.start - a.start || a.asset_id - b.asset_id);
}

/** The order in words, for the table's caption. */
export function sortWords(sort: StopSort): string {
  if (sort.key === 'start') return sort.dir === -1 ? 'newest first' : 'oldest first';
  return sort.dir === -1 ? 'longest first' : 'shortest first';
}

/** The picked stops among those shown, in the order shown. Picks that are not shown (another filter, gone since) do not count. */
export function pickedStops(shown: readonly Stop[], picked: ReadonlySet<string>): Stop[] {
  return shown.filter((s) => picked.has(s.id));
}

/** `picked` with `ids` added (`on`) or taken away. */
export function withPicks(picked: ReadonlySet<string>, ids: readonly string[], on: boolean): Set<string> {
  const next = new Set(picked);
  for (const id of ids) {
    if (on) next.add(id);
    else next.delete(id);
  }
  return next;
}

/** The "select all shown" box: ticked when every shown stop is picked, half when some are. */
export function allShownBox(shown: readonly Stop[], picked: ReadonlySet<string>): { checked: boolean; indeterminate: boolean } {
  const n = pickedStops(shown, picked).length;
  return { checked: n > 0 && n === shown.length, indeterminate: n > 0 && n < shown.length };
}

/** "1 stop", "3 stops". */
export function stopCount(n: number): string {
  return `${n} ${n === 1 ? 'stop' : 'stops'}`;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * `work` for every item, at most `limit` at a time (a hundred stops must not be a hundred
 * requests at once), each outcome in the place of its item. Never rejects.
 */
export async function settleEach<I, T>(items: readonly I[], limit: number, work: (item: I) => Promise<T>): Promise<Settled<T>[]> {
  const out: Settled<T>[] = new Array<Settled<T>>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { ok: true, value: await work(items[i]!) };
      } catch (error) {
        out[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** What the page says after giving several stops a reason: how many got it, and which did not and why. */
export function reasonOutcome(given: number, failed: { label: string; why: string }[]): { given: string | null; failed: { title: string; items: string[] } | null } {
  return {
    given: given > 0 ? `Reason given to ${stopCount(given)}.` : null,
    failed:
      failed.length > 0
        ? {
            title: `The reason could not be given to ${stopCount(failed.length)}; ${failed.length === 1 ? 'it stays' : 'they stay'} selected to try again:`,
            items: failed.map((f) => `${f.label}: ${f.why}`),
          }
        : null,
  };
}

/** The records of a CSV text (RFC 4180: a quoted field may hold commas, quotes and line breaks), each as it was written. */
export function csvRecords(text: string): string[] {
  const records: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) {
      records.push(text.slice(start, i));
      if (c === '\r' && text[i + 1] === '\n') i++;
      start = i + 1;
    }
  }
  if (start < text.length) records.push(text.slice(start));
  return records;
}

/** The fields of one CSV record, unquoted. */
export function csvFields(record: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < record.length; i++) {
    const c = record[i]!;
    if (quoted) {
      if (c === '"' && record[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * The stops CSV with only its long stops, as the page shows them under "Long stops only" (the
 * API filters by machine and by reason, not by kind). Records are kept as the server wrote them.
 */
export function longStopsCsv(csv: string): string {
  const [header, ...rows] = csvRecords(csv);
  if (header === undefined) return csv;
  const short = csvFields(header).indexOf('short');
  if (short < 0) return csv;
  const kept = rows.filter((r) => r !== '' && csvFields(r)[short] !== 'true');
  return [header, ...kept].map((r) => `${r}\r\n`).join('');
}

/** The file name of a period's stops: its first day, and its last when there are more. */
export function stopsCsvName(span: Span, zone: string): string {
  const first = localDate(span.from, zone);
  const last = localDate(Math.max(span.from, span.to - 1), zone);
  return first === last ? `assetlog-stops-${first}.csv` : `assetlog-stops-${first}-to-${last}.csv`;
}
