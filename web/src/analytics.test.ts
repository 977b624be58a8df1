import { describe, expect, it } from 'vitest';
import type { AssetFigures, BucketFigures, Figures } from './api';
import {
  assetTarget,
  belowTarget,
  commonTarget,
  compareShifts,
  groupByLine,
  linesOf,
  parseTargetPercent,
  parseTrend,
  sumBuckets,
  sumFigures,
  targetPercentText,
  trendMachines,
  trendValue,
} from './analytics';
import { parseLocalDateTime } from './time';

const MIN = 60_000;
const HOUR = 60 * MIN;

function figures(run_ms: number, down_ms: number, stops: number, extra: Partial<Figures> = {}): Figures {
  return {
    run_ms,
    down_ms,
    unknown_ms: 0,
    unplanned_ms: 0,
    stops,
    short_stops: stops,
    long_stops: 0,
    availability: run_ms + down_ms === 0 ? null : run_ms / (run_ms + down_ms),
    mtbf_ms: stops ? Math.floor(run_ms / stops) : null,
    mttr_ms: stops ? Math.floor(down_ms / stops) : null,
    ...extra,
  };
}

function asset(asset_id: number, f: Figures, buckets: BucketFigures[] = []): AssetFigures {
  return { ...f, asset_id, asset_name: `Machine ${asset_id}`, downtime_by_reason: [], buckets };
}

describe('sumFigures', () => {
  it('sums times and stops and computes availability, MTBF and MTTR again from the sums', () => {
    const sum = sumFigures([figures(9 * HOUR, HOUR, 2, { unknown_ms: 5, unplanned_ms: 7 }), figures(HOUR, 3 * HOUR, 1)]);
    expect(sum).toEqual({
      run_ms: 10 * HOUR,
      down_ms: 4 * HOUR,
      unknown_ms: 5,
      unplanned_ms: 7,
      stops: 3,
      short_stops: 3,
      long_stops: 0,
      // Not the mean of 90 % and 25 %.
      availability: 10 / 14,
      mtbf_ms: Math.floor((10 * HOUR) / 3),
      mttr_ms: Math.floor((4 * HOUR) / 3),
    });
  });

  it('has no availability without run or down time, and no means without stops', () => {
    expect(sumFigures([])).toMatchObject({ run_ms: 0, availability: null, mtbf_ms: null, mttr_ms: null });
    expect(sumFigures([figures(HOUR, 0, 0)])).toMatchObject({ availability: 1, mtbf_ms: null, mttr_ms: null });
  });

  it('rounds the means down, as the API does', () => {
    expect(sumFigures([figures(10, 10, 3)])).toMatchObject({ mtbf_ms: 3, mttr_ms: 3 });
  });
});

describe('compareShifts', () => {
  const ZONE = 'Europe/Berlin';
  const at = (s: string) => new Date(parseLocalDateTime(s, ZONE)).toISOString();
  const bucket = (shift: string, start: string, end: string, f: Figures): BucketFigures => ({ ...f, shift, start: at(start), end: at(end) });
  const from = parseLocalDateTime('2025-12-01T00:00', ZONE);
  // Two days of three shifts; the night from the day before is cut at the window's start.
  const machine1 = [
    bucket('Night', '2025-12-01T00:00', '2025-12-01T06:00', figures(5 * HOUR, HOUR, 1)),
    bucket('Early', '2025-12-01T06:00', '2025-12-01T14:00', figures(7 * HOUR, HOUR, 2)),
    bucket('Late', '2025-12-01T14:00', '2025-12-01T22:00', figures(8 * HOUR, 0, 0)),
    bucket('Night', '2025-12-01T22:00', '2025-12-02T06:00', figures(6 * HOUR, 2 * HOUR, 4)),
    bucket('Early', '2025-12-02T06:00', '2025-12-02T14:00', figures(6 * HOUR, 2 * HOUR, 1)),
    bucket('Late', '2025-12-02T14:00', '2025-12-02T22:00', figures(4 * HOUR, 4 * HOUR, 2)),
  ];
  const machine2 = machine1.map((b) => ({ ...b, ...figures(b.run_ms / 2, b.down_ms + HOUR, b.stops + 1) }));

  it('sums each shift over its occurrences and the machines, in the order of the day', () => {
    const rows = compareShifts([{ buckets: machine1 }, { buckets: machine2 }], from, ZONE);
    expect(rows.map((r) => r.name)).toEqual(['Early', 'Late', 'Night']);
    const early = rows[0]!;
    // Machine 1: 13 h run, 3 h down, 3 stops; machine 2: 6.5 h run, 5 h down, 5 stops.
    expect(early).toMatchObject({ run_ms: 19.5 * HOUR, down_ms: 8 * HOUR, stops: 8, occurrences: 2 });
    expect(early.availability).toBeCloseTo(19.5 / 27.5, 12);
    expect(early.mttr_ms).toBe(HOUR);
    const night = rows[2]!;
    expect(night).toMatchObject({ run_ms: 16.5 * HOUR, down_ms: 8 * HOUR, stops: 12, occurrences: 2 });
  });

  it('gives each name the sum of the API’s buckets of that name, whatever their order', () => {
    const shuffled = [...machine1].reverse();
    const rows = compareShifts([{ buckets: shuffled }], from, ZONE);
    for (const r of rows) {
      const mine = machine1.filter((b) => b.shift === r.name);
      expect(r.run_ms).toBe(mine.reduce((n, b) => n + b.run_ms, 0));
      expect(r.down_ms).toBe(mine.reduce((n, b) => n + b.down_ms, 0));
      expect(r.stops).toBe(mine.reduce((n, b) => n + b.stops, 0));
    }
    expect(rows.map((r) => r.name)).toEqual(['Early', 'Late', 'Night']);
  });

  it('has nothing to compare without shift buckets (no calendar)', () => {
    expect(compareShifts([{ buckets: [] }, { buckets: [] }], from, ZONE)).toEqual([]);
    expect(compareShifts([], from, ZONE)).toEqual([]);
  });
});

describe('targets', () => {
  it('takes the machine’s own target over the tenant’s', () => {
    expect(assetTarget({ target_availability: 0.6 }, 0.85)).toBe(0.6);
    expect(assetTarget({ target_availability: null }, 0.85)).toBe(0.85);
    expect(assetTarget(undefined, 0.85)).toBe(0.85);
    expect(assetTarget({ target_availability: null }, null)).toBeNull();
  });

  it('gives several machines the target they share, else the tenant’s', () => {
    expect(commonTarget([0.6, 0.6], 0.85)).toBe(0.6);
    expect(commonTarget([0.6, 0.85], 0.85)).toBe(0.85);
    expect(commonTarget([0.6, 0.7], null)).toBeNull();
    expect(commonTarget([], 0.85)).toBe(0.85);
    expect(commonTarget([null, null], null)).toBeNull();
  });

  it('marks only an availability under its target', () => {
    expect(belowTarget(0.84, 0.85)).toBe(true);
    expect(belowTarget(0.85, 0.85)).toBe(false);
    expect(belowTarget(0.9, 0.85)).toBe(false);
    expect(belowTarget(null, 0.85)).toBe(false);
    expect(belowTarget(0.1, null)).toBe(false);
  });

  it.each([
    ['', { ok: null }],
    ['  ', { ok: null }],
    ['85', { ok: 0.85 }],
    ['87.5', { ok: 0.875 }],
    ['92,25', { ok: 0.9225 }],
    ['100', { ok: 1 }],
    ['1', { ok: 0.01 }],
    ['85 %', { ok: 0.85 }],
  ])('reads %j as a percentage', (text, result) => {
    expect(parseTargetPercent(text)).toEqual(result);
  });

  it.each(['0', '0.5', '100.01', '-3', 'abc', '85x'])('refuses %j', (text) => {
    expect(parseTargetPercent(text)).toHaveProperty('error');
  });

  it('shows a stored ratio in the percentage field without float noise', () => {
    expect(targetPercentText(0.85)).toBe('85');
    expect(targetPercentText(0.9225)).toBe('92.25');
    expect(targetPercentText(0.29)).toBe('29');
    expect(targetPercentText(null)).toBe('');
    for (const text of ['85', '87.5', '92.25', '1', '100']) {
      const parsed = parseTargetPercent(text);
      expect(targetPercentText('ok' in parsed ? parsed.ok : null)).toBe(text);
    }
  });
});

describe('groupByLine', () => {
  const rows = [
    { ...figures(HOUR, HOUR, 1), id: 1, line: 'Line 10' },
    { ...figures(3 * HOUR, HOUR, 2), id: 2, line: null },
    { ...figures(2 * HOUR, 0, 0), id: 3, line: 'Line 2' },
    { ...figures(HOUR, 3 * HOUR, 3), id: 4, line: 'Line 10' },
    { ...figures(0, 0, 0), id: 5, line: null },
  ];

  it('puts lines by name (2 before 10) and the machines without one last, under "No line"', () => {
    const groups = groupByLine(rows, (r) => r.line);
    expect(groups.map((g) => g.line)).toEqual(['Line 2', 'Line 10', null]);
  });

  it('keeps the order the rows came in (the table’s sort) inside each group', () => {
    const groups = groupByLine([...rows].reverse(), (r) => r.line);
    expect(groups.map((g) => g.rows.map((r) => r.id))).toEqual([[3], [4, 1], [5, 2]]);
  });

  it('gives each line the subtotal of its machines, availability from the sums', () => {
    const groups = groupByLine(rows, (r) => r.line);
    const line10 = groups[1]!;
    expect(line10.subtotal).toMatchObject({ run_ms: 2 * HOUR, down_ms: 4 * HOUR, stops: 4, availability: 2 / 6, mttr_ms: HOUR });
    expect(groups[2]!.subtotal).toMatchObject({ run_ms: 3 * HOUR, down_ms: HOUR, stops: 2, availability: 0.75 });
    // Every machine in exactly one group; the subtotals add up to the whole.
    expect(groups.flatMap((g) => g.rows).length).toBe(rows.length);
    expect(sumFigures(groups.map((g) => g.subtotal))).toEqual(sumFigures(rows));
  });

  it('lists the distinct lines by name', () => {
    expect(linesOf(rows)).toEqual(['Line 2', 'Line 10']);
  });
});

describe('the trend’s choice', () => {
  it('round-trips through the select and the URL', () => {
    for (const c of [{ kind: 'all' } as const, { kind: 'line', line: 'Line 1: hall A' } as const, { kind: 'asset', id: 7 } as const]) {
      expect(parseTrend(trendValue(c))).toEqual(c);
    }
    expect(parseTrend(null)).toEqual({ kind: 'all' });
    expect(parseTrend('asset:x')).toEqual({ kind: 'all' });
    expect(parseTrend('line:')).toEqual({ kind: 'all' });
  });

  const b = (start: string, f: Figures): BucketFigures => ({ ...f, start, end: start });
  const assets = [
    asset(1, figures(2, 2, 1), [b('d1', figures(1, 1, 1)), b('d2', figures(1, 1, 0))]),
    asset(2, figures(4, 0, 0), [b('d1', figures(2, 0, 0)), b('d2', figures(2, 0, 0))]),
    asset(3, figures(0, 4, 2), [b('d1', figures(0, 2, 1)), b('d2', figures(0, 2, 1))]),
  ];
  const lineOf = (id: number) => (id === 3 ? null : 'Line A');

  it('covers all machines, a line’s or one', () => {
    expect(trendMachines(assets, { kind: 'all' }, lineOf).map((a) => a.asset_id)).toEqual([1, 2, 3]);
    expect(trendMachines(assets, { kind: 'line', line: 'Line A' }, lineOf).map((a) => a.asset_id)).toEqual([1, 2]);
    expect(trendMachines(assets, { kind: 'asset', id: 3 }, lineOf).map((a) => a.asset_id)).toEqual([3]);
    expect(trendMachines(assets, { kind: 'line', line: 'Line Z' }, lineOf)).toEqual([]);
  });

  it('sums a line’s buckets bucket by bucket', () => {
    const line = sumBuckets(trendMachines(assets, { kind: 'line', line: 'Line A' }, lineOf));
    expect(line.map((x) => [x.start, x.run_ms, x.down_ms, x.stops, x.availability])).toEqual([
      ['d1', 3, 1, 1, 0.75],
      ['d2', 3, 1, 0, 0.75],
    ]);
    expect(sumBuckets([])).toEqual([]);
  });
});
