// What the timeline draws for a machine: its states (from `GET /api/v1/timeline`, the same
// history the figures come from) inside planned time, and outside it planned downtime or time not
// scheduled, so the chart and the analytics figures agree.

import type { AssetState, Stretch } from './api';

/** A state inside planned time; `DOWNTIME` (planned downtime) or `UNSCHEDULED` outside it. */
export type Paint = AssetState | 'DOWNTIME' | 'UNSCHEDULED';

export interface Segment {
  start: number;
  end: number;
  state: Paint;
}

/** The index of the span of `list` (sorted, disjoint) that holds `t`, moving `i` forward only. */
function holding(list: Stretch[], i: number, t: number): [number, boolean] {
  while (i < list.length && list[i]!.end <= t) i++;
  return [i, i < list.length && list[i]!.start <= t];
}

/**
 * The segments to draw: `states` (back to back) cut where planned time and planned downtime
 * begin and end; inside `planned` each keeps its state, outside it is `DOWNTIME` where planned
 * downtime lies and `UNSCHEDULED` elsewhere. Neighbours that paint alike merge.
 */
export function paint(states: (Stretch & { state: AssetState })[], planned: Stretch[], downtime: Stretch[]): Segment[] {
  const edges = new Set<number>();
  for (const list of [states, planned, downtime]) for (const s of list) edges.add(s.start).add(s.end);
  const first = states[0]?.start ?? 0;
  const last = states[states.length - 1]?.end ?? 0;
  const cuts = [...edges].filter((t) => t >= first && t <= last).sort((a, b) => a - b);
  const out: Segment[] = [];
  let [si, pi, di] = [0, 0, 0];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const [start, end] = [cuts[k]!, cuts[k + 1]!];
    let inState: boolean, inPlanned: boolean, inDowntime: boolean;
    [si, inState] = holding(states, si, start);
    [pi, inPlanned] = holding(planned, pi, start);
    [di, inDowntime] = holding(downtime, di, start);
    if (!inState) continue;
    const state: Paint = inPlanned ? states[si]!.state : inDowntime ? 'DOWNTIME' : 'UNSCHEDULED';
    const prev = out[out.length - 1];
    if (prev && prev.state === state && prev.end === start) prev.end = end;
    else out.push({ start, end, state });
  }
  return out;
}

/** Milliseconds of `list` painted `state`: inside planned time these are the figures' run, down and unknown time. */
export function paintedMs(list: Segment[], state: Paint): number {
  return list.filter((s) => s.state === state).reduce((sum, s) => sum + s.end - s.start, 0);
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
