import { describe, expect, it } from 'vitest';
import { paint, paintedMs, pan, segmentAt, wheelFactor, zoom, zoomAt } from './timeline';

const st = (start: number, end: number, state: 'RUNNING' | 'STOPPED' | 'UNKNOWN') => ({ start, end, state });

describe('paint', () => {
  it('keeps the states inside planned time and greys out the rest', () => {
    const states = [st(0, 30, 'RUNNING'), st(30, 60, 'STOPPED'), st(60, 100, 'UNKNOWN')];
    expect(paint(states, [{ start: 10, end: 50 }, { start: 70, end: 80 }], [])).toEqual([
      { start: 0, end: 10, state: 'UNSCHEDULED' },
      { start: 10, end: 30, state: 'RUNNING' },
      { start: 30, end: 50, state: 'STOPPED' },
      { start: 50, end: 70, state: 'UNSCHEDULED' },
      { start: 70, end: 80, state: 'UNKNOWN' },
      { start: 80, end: 100, state: 'UNSCHEDULED' },
    ]);
  });

  it('draws planned downtime as such, and merges neighbours that paint alike', () => {
    const states = [st(0, 40, 'STOPPED'), st(40, 100, 'RUNNING')];
    const painted = paint(states, [{ start: 0, end: 20 }, { start: 30, end: 100 }], [{ start: 20, end: 30 }]);
    expect(painted).toEqual([
      { start: 0, end: 20, state: 'STOPPED' },
      { start: 20, end: 30, state: 'DOWNTIME' },
      { start: 30, end: 40, state: 'STOPPED' },
      { start: 40, end: 100, state: 'RUNNING' },
    ]);
    expect(paintedMs(painted, 'STOPPED')).toBe(30);
    expect(paintedMs(painted, 'RUNNING')).toBe(60);
  });

  it('is all planned without a calendar, and empty without states', () => {
    const states = [st(0, 10, 'RUNNING'), st(10, 20, 'RUNNING')];
    expect(paint(states, [{ start: 0, end: 20 }], [])).toEqual([{ start: 0, end: 20, state: 'RUNNING' }]);
    expect(paint([], [{ start: 0, end: 20 }], [])).toEqual([]);
  });

  it('finds the segment at a time', () => {
    const list = paint([st(0, 10, 'UNKNOWN'), st(10, 100, 'RUNNING')], [{ start: 0, end: 100 }], []);
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
