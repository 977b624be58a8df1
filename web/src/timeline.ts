// A machine's states over a window, as spans, from the stored events (newest first from the API).

import type { AssetState } from './api';

export interface Segment {
  start: number;
  end: number;
  state: AssetState;
}

/**
 * Spans of state over `[from, min(to, now))`: `before` is the state at `from` (the last event
 * before it, or null: unknown); each event sets the state from its time on; at one instant the
 * last event holds; repeats merge.
 */
export function segments(
  events: { ts: number; state: 'RUNNING' | 'STOPPED' }[],
  before: 'RUNNING' | 'STOPPED' | null,
  from: number,
  to: number,
  now: number,
): Segment[] {
  const end = Math.min(to, now);
  if (end <= from) return [];
  const sorted = events.filter((e) => e.ts >= from && e.ts < end).sort((a, b) => a.ts - b.ts);
  const out: Segment[] = [];
  let state: AssetState = before ?? 'UNKNOWN';
  let since = from;
  for (const e of sorted) {
    if (e.state === state) continue;
    if (e.ts > since) out.push({ start: since, end: e.ts, state });
    state = e.state;
    since = e.ts;
  }
  out.push({ start: since, end, state });
  // Same-instant flips leave neighbours with the same state: merge them.
  return out.reduce<Segment[]>((merged, s) => {
    const last = merged[merged.length - 1];
    if (last && last.state === s.state && last.end === s.start) last.end = s.end;
    else merged.push({ ...s });
    return merged;
  }, []);
}

/** The segment at time `t`, if any. */
export function segmentAt(list: Segment[], t: number): Segment | undefined {
  return list.find((s) => s.start <= t && t < s.end);
}

/** A view `[min, max]` moved by `fraction` of its width, kept inside `[lo, hi]`. */
export function pan(view: { min: number; max: number }, fraction: number, lo: number, hi: number) {
  const width = view.max - view.min;
  let min = view.min + width * fraction;
  min = Math.max(lo, Math.min(hi - width, min));
  return { min, max: min + width };
}

/** A view scaled by `factor` (< 1 zooms in) about its middle, kept inside `[lo, hi]`, at least a minute wide. */
export function zoom(view: { min: number; max: number }, factor: number, lo: number, hi: number) {
  return zoomAt(view, factor, (view.min + view.max) / 2, lo, hi);
}

/**
 * A view scaled by `factor` about the time `at` (under the pointer), which stays where it was on
 * screen unless the edges of `[lo, hi]` push the view; at least a minute wide.
 */
export function zoomAt(view: { min: number; max: number }, factor: number, at: number, lo: number, hi: number) {
  const old = view.max - view.min;
  const width = Math.min(hi - lo, Math.max(60_000, old * factor));
  const min = at - ((at - view.min) * width) / old;
  return pan({ min, max: min + width }, 0, lo, hi);
}

/**
 * How much one wheel event zooms: 2^(pixels / 300), so a mouse notch (100 px) zooms in or out by
 * about a fifth and a trackpad's small steps zoom smoothly. Line and page modes count as pixels.
 */
export function wheelFactor(deltaY: number, deltaMode: number): number {
  const pixels = deltaY * (deltaMode === 1 ? 16 : deltaMode === 2 ? 400 : 1);
  return Math.min(4, Math.max(0.25, 2 ** (pixels / 300)));
}
