import { describe, expect, it } from 'vitest';
import { pan, segmentAt, segments, wheelFactor, zoom, zoomAt } from './timeline';

const ev = (ts: number, running: boolean) => ({ ts, state: running ? ('RUNNING' as const) : ('STOPPED' as const) });

describe('segments', () => {
  it('is unknown before the first event and runs until now', () => {
    expect(segments([ev(10, true), ev(30, false)], null, 0, 100, 50)).toEqual([
      { start: 0, end: 10, state: 'UNKNOWN' },
      { start: 10, end: 30, state: 'RUNNING' },
      { start: 30, end: 50, state: 'STOPPED' },
    ]);
  });

  it('starts with the state before the window, ignores repeats and what lies outside', () => {
    expect(segments([ev(-5, false), ev(20, true), ev(40, true), ev(150, false)], 'RUNNING', 0, 100, 1000)).toEqual([
      { start: 0, end: 100, state: 'RUNNING' },
    ]);
    expect(segments([ev(20, false), ev(40, true)], 'RUNNING', 0, 100, 1000).map((s) => [s.start, s.state])).toEqual([
      [0, 'RUNNING'],
      [20, 'STOPPED'],
      [40, 'RUNNING'],
    ]);
  });

  it('lets the last of several events at one instant hold, and merges what is left', () => {
    expect(segments([ev(20, false), ev(20, true)], 'RUNNING', 0, 100, 1000)).toEqual([{ start: 0, end: 100, state: 'RUNNING' }]);
  });

  it('accepts events in any order and is empty for a window in the future', () => {
    expect(segments([ev(30, false), ev(10, true)], null, 0, 40, 1000).map((s) => s.state)).toEqual(['UNKNOWN', 'RUNNING', 'STOPPED']);
    expect(segments([], null, 100, 200, 50)).toEqual([]);
  });

  it('finds the segment at a time', () => {
    const list = segments([ev(10, true)], null, 0, 100, 100);
    expect(segmentAt(list, 5)?.state).toBe('UNKNOWN');
    expect(segmentAt(list, 10)?.state).toBe('RUNNING');
    expect(segmentAt(list, 100)).toBeUndefined();
  });
});

describe('pan and zoom', () => {
  it('pans within the day', () => {
    expect(pan({ min: 0, max: 100 }, 0.5, 0, 1000)).toEqual({ min: 50, max: 150 });
    expect(pan({ min: 0, max: 100 }, -0.5, 0, 1000)).toEqual({ min: 0, max: 100 });
    expect(pan({ min: 900, max: 1000 }, 1, 0, 1000)).toEqual({ min: 900, max: 1000 });
  });

  it('zooms about the middle, never past the day nor under a minute', () => {
    expect(zoom({ min: 0, max: 400_000 }, 0.5, 0, 1_000_000)).toEqual({ min: 100_000, max: 300_000 });
    expect(zoom({ min: 0, max: 400_000 }, 10, 0, 1_000_000)).toEqual({ min: 0, max: 1_000_000 });
    expect(zoom({ min: 0, max: 100_000 }, 0.1, 0, 1_000_000)).toEqual({ min: 20_000, max: 80_000 });
  });

  it('zooms about the pointer, which keeps its place on screen', () => {
    // The pointer at a quarter of the view: after zooming it is still at a quarter.
    expect(zoomAt({ min: 0, max: 400_000 }, 0.5, 100_000, 0, 1_000_000)).toEqual({ min: 50_000, max: 250_000 });
    expect(zoomAt({ min: 200_000, max: 400_000 }, 2, 250_000, 0, 1_000_000)).toEqual({ min: 150_000, max: 550_000 });
    // Near an edge the day's bounds win: the view slides back inside, keeping its width.
    expect(zoomAt({ min: 0, max: 400_000 }, 2, 0, 100_000, 1_000_000)).toEqual({ min: 100_000, max: 900_000 });
    // Never under a minute.
    expect(zoomAt({ min: 0, max: 400_000 }, 0.001, 399_000, 0, 1_000_000)).toEqual({ min: 339_150, max: 399_150 });
  });

  it('turns wheel steps into zoom factors, in for up and out for down', () => {
    expect(wheelFactor(-100, 0)).toBeLessThan(1);
    expect(wheelFactor(100, 0)).toBeGreaterThan(1);
    expect(wheelFactor(100, 0) * wheelFactor(-100, 0)).toBeCloseTo(1);
    expect(wheelFactor(-3, 1)).toBeCloseTo(wheelFactor(-48, 0));
    expect(wheelFactor(-10, 2)).toBe(0.25);
    expect(wheelFactor(0, 0)).toBe(1);
  });
});
