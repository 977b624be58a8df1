// What the analytics page makes of the API's answer for a manager: the figures of several rows
// together (a line's subtotal, a shift across days and machines), the machines grouped by line,
// which target availability applies where, and what the trend shows. Pure: values in, values out.

import type { Asset, AssetFigures, BucketFigures, Figures } from './api';
import { formatTime } from './time';

/**
 * The figures of several rows together, as the API makes its total: times and stops summed;
 * availability, MTBF and MTTR computed again from the sums (rounded down, `null` without stops),
 * never averaged.
 */
export function sumFigures(rows: readonly Figures[]): Figures {
  const sum = (key: 'run_ms' | 'down_ms' | 'unknown_ms' | 'unplanned_ms' | 'stops' | 'short_stops' | 'long_stops') =>
    rows.reduce((n, r) => n + r[key], 0);
  const run_ms = sum('run_ms');
  const down_ms = sum('down_ms');
  const stops = sum('stops');
  return {
    run_ms,
    down_ms,
    unknown_ms: sum('unknown_ms'),
    unplanned_ms: sum('unplanned_ms'),
    stops,
    short_stops: sum('short_stops'),
    long_stops: sum('long_stops'),
    availability: run_ms + down_ms === 0 ? null : run_ms / (run_ms + down_ms),
    mtbf_ms: stops === 0 ? null : Math.floor(run_ms / stops),
    mttr_ms: stops === 0 ? null : Math.floor(down_ms / stops),
  };
}

/** One shift of the calendar over a period: every occurrence on every machine, summed. */
export interface ShiftFigures extends Figures {
  name: string;
  /** How many occurrences of the shift the period holds (per machine, not times machines). */
  occurrences: number;
}

/**
 * Early against Late against Night: the `bucket=shift` buckets of every machine summed per shift
 * name. Ordered by the time of day the shift starts (its earliest start, in the tenant's zone;
 * an occurrence cut by the window's start does not count for that), so Early comes before Late
 * whatever day the period begins on.
 */
export function compareShifts(assets: readonly { buckets: readonly BucketFigures[] }[], windowFrom: number, zone: string): ShiftFigures[] {
  const nameOf = (b: BucketFigures) => b.shift ?? 'Shift';
  const byName = new Map<string, BucketFigures[]>();
  for (const a of assets) {
    for (const b of a.buckets) {
      const list = byName.get(nameOf(b));
      if (list) list.push(b);
      else byName.set(nameOf(b), [b]);
    }
  }
  // Every machine has the same buckets: one machine's are the occurrences, and say when each shift starts.
  const one = assets.find((a) => a.buckets.length > 0)?.buckets ?? [];
  const startsAt = (name: string) => {
    const starts = one.filter((b) => nameOf(b) === name).map((b) => Date.parse(b.start));
    const whole = starts.filter((t) => t !== windowFrom);
    return (whole.length > 0 ? whole : starts).map((t) => formatTime(t, zone, 'en-GB', false)).sort()[0] ?? '';
  };
  return [...byName]
    .map(([name, buckets]) => ({
      row: { ...sumFigures(buckets), name, occurrences: one.filter((b) => nameOf(b) === name).length },
      order: startsAt(name),
    }))
    .sort((a, b) => a.order.localeCompare(b.order) || a.row.name.localeCompare(b.row.name))
    .map((r) => r.row);
}

/** The target availability of one machine: its own, else the tenant's, else none. */
export function assetTarget(asset: Pick<Asset, 'target_availability'> | undefined, tenant: number | null): number | null {
  return asset?.target_availability ?? tenant;
}

/**
 * The target of several machines together (a line, the whole plant, a shift of all machines):
 * the one target they all share, else the tenant's (which may be none).
 */
export function commonTarget(targets: readonly (number | null)[], tenant: number | null): number | null {
  const distinct = new Set(targets);
  if (distinct.size === 1) return targets[0] ?? null;
  return tenant;
}

/** Whether an availability misses its target (no availability or no target: not marked). */
export function belowTarget(availability: number | null, target: number | null): boolean {
  return availability !== null && target !== null && availability < target;
}

/** The machines of one line, in the table's order, with their subtotal. `line` null: no line. */
export interface LineGroup<T> {
  line: string | null;
  rows: T[];
  subtotal: Figures;
}

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * Rows grouped under their line: lines by name ("Line 2" before "Line 10"), machines without a
 * line last. Within a group the rows keep the order they came in (the table's sort).
 */
export function groupByLine<T extends Figures>(rows: readonly T[], lineOf: (row: T) => string | null): LineGroup<T>[] {
  const groups = new Map<string | null, T[]>();
  for (const r of rows) {
    const line = lineOf(r);
    const list = groups.get(line);
    if (list) list.push(r);
    else groups.set(line, [r]);
  }
  return [...groups]
    .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : byName.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0)))
    .map(([line, list]) => ({ line, rows: list, subtotal: sumFigures(list) }));
}

/** The distinct lines of `assets`, by name. */
export function linesOf(assets: readonly Pick<Asset, 'line'>[]): string[] {
  return [...new Set(assets.map((a) => a.line).filter((l): l is string => l !== null))].sort((a, b) => byName.compare(a, b));
}

/** What the trend chart shows: all machines, one line, or one machine. */
export type TrendChoice = { kind: 'all' } | { kind: 'line'; line: string } | { kind: 'asset'; id: number };

/** A choice as the select (and the URL) keeps it: `all`, `line:<name>`, `asset:<id>`. */
export function trendValue(choice: TrendChoice): string {
  if (choice.kind === 'line') return `line:${choice.line}`;
  if (choice.kind === 'asset') return `asset:${choice.id}`;
  return 'all';
}

export function parseTrend(raw: string | null): TrendChoice {
  if (raw?.startsWith('line:') && raw.length > 5) return { kind: 'line', line: raw.slice(5) };
  const id = raw?.startsWith('asset:') ? Number(raw.slice(6)) : NaN;
  if (Number.isInteger(id) && id > 0) return { kind: 'asset', id };
  return { kind: 'all' };
}

/** The machines a choice covers (none when the line or machine is not in the answer). */
export function trendMachines(assets: readonly AssetFigures[], choice: TrendChoice, lineOf: (id: number) => string | null): AssetFigures[] {
  if (choice.kind === 'line') return assets.filter((a) => lineOf(a.asset_id) === choice.line);
  if (choice.kind === 'asset') return assets.filter((a) => a.asset_id === choice.id);
  return [...assets];
}

/** The buckets of several machines summed bucket by bucket (every machine has the same buckets). */
export function sumBuckets(assets: readonly { buckets: readonly BucketFigures[] }[]): BucketFigures[] {
  const first = assets[0];
  if (!first) return [];
  return first.buckets.map((b, i) => ({
    ...sumFigures(assets.map((a) => a.buckets[i]!).filter((x) => x !== undefined)),
    start: b.start,
    end: b.end,
    ...(b.shift === undefined ? {} : { shift: b.shift }),
  }));
}

/**
 * A target typed as a percentage (1 to 100, up to two decimals as the server keeps it; empty:
 * none) as the API takes it, a ratio; or why not.
 */
export function parseTargetPercent(text: string): { ok: number | null } | { error: string } {
  const t = text.trim().replace(',', '.');
  if (t === '') return { ok: null };
  const pct = Number(t.replace(/\s*%$/, ''));
  if (!Number.isFinite(pct) || pct < 1 || pct > 100) {
    return { error: 'The target availability is a percentage from 1 to 100, or empty for none.' };
  }
  return { ok: Math.round(pct * 100) / 10_000 };
}

/** A target ratio as the percentage field shows it ("85", "85.5"); empty for none. */
export function targetPercentText(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return '';
  return String(Math.round(ratio * 10_000) / 100);
}
