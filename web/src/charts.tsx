// Charts, drawn by uPlot (small, fast canvas charts). Only the analytics and timeline pages import
// this module, so uPlot stays out of the board's first load. Every chart has its numbers in a
// table beside it too: a canvas says nothing to a screen reader.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
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

export { uPlot };
