// Charts, drawn by uPlot (small, fast canvas charts). Only the analytics and timeline pages import
// this module, so uPlot stays out of the board's first load. Every chart has its numbers in a
// table beside it too: a canvas says nothing to a screen reader.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { shortDay, thinTicks } from './ticks';
import { formatDay, formatTime } from './time';

/** Creates the chart on mount and whenever `deps` change; resizes it with its box. */
export function UChart({
  build,
  deps,
  height = 260,
  label,
  onReady,
}: {
  build: (width: number, height: number) => { options: Omit<uPlot.Options, 'width' | 'height'>; data: uPlot.AlignedData };
  deps: unknown[];
  height?: number;
  label: string;
  onReady?: (chart: uPlot | null) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const width = Math.max(280, el.clientWidth);
    const { options, data } = build(width, height);
    const chart = new uPlot({ ...options, width, height }, data, el);
    onReady?.(chart);
    const observer = new ResizeObserver(() => {
      const w = Math.max(280, el.clientWidth);
      if (w !== chart.width) chart.setSize({ width: w, height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      onReady?.(null);
      chart.destroy();
    };
  }, deps);
  return <div class="chart-box" ref={box} role="img" aria-label={label} />;
}

export const COLORS = ['#0b57d0', '#b3261e', '#1a7f37', '#8250df', '#bc4c00', '#0a7ea4', '#6e7781', '#cf222e'];

/** Times in milliseconds, placed in the tenant's zone (uPlot takes seconds by default). */
export function zonedTime(zone: string): Pick<uPlot.Options, 'ms' | 'tzDate'> {
  return { ms: 1, tzDate: (ts: number) => uPlot.tzDate(new Date(ts), zone) };
}

/**
 * Labels for a time axis in the tenant's zone, 24-hour clock: hours and minutes for a window of
 * up to two days, else days.
 */
export function timeAxis(zone: string, spanMs: number): uPlot.Axis {
  const short = spanMs <= 2 * 86_400_000;
  return {
    values: (_u, splits) => splits.map((v) => (short ? formatTime(v, zone, undefined, false) : formatDay(v, zone))),
    size: 40,
  };
}

/** uPlot's own axis font, named so that labels can be measured with it. */
export const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
/** The least room between two labels of a time axis, in CSS pixels. */
const LABEL_GAP = 14;

let measurer: CanvasRenderingContext2D | null = null;

/** How wide `text` is in the axis font, in CSS pixels. */
function textWidth(text: string): number {
  measurer ??= document.createElement('canvas').getContext('2d');
  if (!measurer) return text.length * 7;
  measurer.font = AXIS_FONT;
  return measurer.measureText(text).width;
}

/** The width of the plotting area in CSS pixels (uPlot's box is in canvas pixels). */
function plotWidth(u: uPlot): number {
  const w = u.bbox.width / uPlot.pxRatio;
  return w > 0 ? w : Math.max(100, u.width - 100);
}

/**
 * A time axis over days and weeks: short day labels ("1 Dec") in the tenant's zone at
 * `candidates` (local midnights, or bucket starts), as many as fit without touching at the
 * chart's width, re-chosen when it resizes. What it drew is left on the chart's box as
 * `data-x-labels` (text, centre and width in CSS pixels), for the browser tests.
 */
export function dayAxis(zone: string, candidates: (min: number, max: number) => number[]): { axis: uPlot.Axis; hook: (u: uPlot) => void } {
  let shown: number[] = [];
  const axis: uPlot.Axis = {
    font: AXIS_FONT,
    size: 40,
    splits: (u, _axis, min, max) => {
      const all = candidates(min, max);
      const width = plotWidth(u);
      const positions = all.map((v) => (max > min ? ((v - min) / (max - min)) * width : 0));
      const widest = Math.max(0, ...all.map((v) => textWidth(shortDay(v, zone))));
      shown = thinTicks(all, positions, widest + LABEL_GAP);
      return shown;
    },
    values: (_u, splits) => splits.map((v) => shortDay(v, zone)),
  };
  const hook = (u: uPlot) => {
    const labels = shown.map((v) => {
      const text = shortDay(v, zone);
      return { text, x: Math.round(u.valToPos(v, 'x') * 10) / 10, width: Math.round(textWidth(text) * 10) / 10 };
    });
    u.root.parentElement?.setAttribute('data-x-labels', JSON.stringify(labels));
  };
  return { axis, hook };
}

/**
 * A target drawn across a chart: a dashed series at `value` on scale `y` (so the legend names
 * it), and its name written at the right end, above the line (`label`, drawn by `hook`).
 */
export function targetLine(label: string, value: number, color = '#6a4c00'): { series: uPlot.Series; hook: (u: uPlot) => void } {
  return {
    series: { label, stroke: color, width: 2, dash: [8, 5], points: { show: false }, value: () => label.replace(/^Target /, '') },
    hook: (u: uPlot) => {
      const ctx = u.ctx;
      const y = u.valToPos(value, 'y', true);
      const right = u.bbox.left + u.bbox.width;
      ctx.save();
      ctx.font = AXIS_FONT.replace(/^(\d+)px/, (_m, px: string) => `bold ${Math.round(Number(px) * uPlot.pxRatio)}px`);
      ctx.fillStyle = color;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'bottom';
      ctx.fillText(label, right - 4 * uPlot.pxRatio, y - 3 * uPlot.pxRatio);
      ctx.restore();
    },
  };
}

export { uPlot };
