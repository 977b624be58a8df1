// Where a chart's time axis puts its labels over days and weeks: at local midnights (or bucket
// starts) in the tenant's zone, short ("1 Dec"), and only as many as fit side by side, every
// day, every second day, every week… so that 30 days never overlap, on a desk or on a phone.

import { daySpan, dayStart } from './time';

/** How many candidates a label may stand for: every day, every 2nd, …, every week, 2 weeks, … */
export const TICK_STEPS = [1, 2, 3, 4, 5, 7, 10, 14, 21, 28, 35, 42, 56, 91, 182, 364];

/**
 * Every `step`-th of `values` (from the first), with the smallest step of {@link TICK_STEPS}
 * that keeps the labels at least `minGap` apart; `positions` are where each value sits (pixels,
 * rising). With no step wide enough, only the first.
 */
export function thinTicks(values: readonly number[], positions: readonly number[], minGap: number): number[] {
  if (values.length <= 1) return [...values];
  for (const step of TICK_STEPS) {
    let fits = true;
    for (let i = step; i < values.length; i += step) {
      if (positions[i]! - positions[i - step]! < minGap) {
        fits = false;
        break;
      }
    }
    if (fits) return values.filter((_, i) => i % step === 0);
  }
  return [values[0]!];
}

/** The local midnights of `zone` in `[min, max]` (23- and 25-hour days included). */
export function localMidnights(min: number, max: number, zone: string): number[] {
  const out: number[] = [];
  let t = dayStart(min, zone);
  if (t < min) t = daySpan(min, zone).to;
  for (; t <= max; t = daySpan(t, zone).to) out.push(t);
  return out;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** "1 Dec" in the tenant's zone: a day on an axis, without the weekday. */
export function shortDay(ms: number, zone: string, locale?: string): string {
  const key = `${locale ?? ''}|${zone}`;
  let f = formats.get(key);
  if (!f) formats.set(key, (f = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', timeZone: zone })));
  return f.format(ms);
}
