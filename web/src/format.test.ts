import { describe, expect, it } from 'vitest';
import { compareNullable, describeRssi, formatAgo, formatDuration, formatHours, formatMeanTime, formatPercent, formatTarget, paretoRows } from './format';

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [-5000, '0 s'],
    [999, '0 s'],
    [45_000, '45 s'],
    [59_999, '59 s'],
    [60_000, '1 min 00 s'],
    [245_000, '4 min 05 s'],
    [3_599_999, '59 min 59 s'],
    [3_600_000, '1 h 00 min'],
    [7_620_000, '2 h 07 min'],
    [86_400_000, '1 d 00 h'],
    [3 * 86_400_000 + 4 * 3_600_000 + 59 * 60_000, '3 d 04 h'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatHours', () => {
  it.each([
    [null, '—'],
    [0, '0 min'],
    [12 * 60_000 + 59_000, '12 min'],
    [839 * 60_000, '13 h 59 min'],
  ])('%s reads %s', (ms, text) => {
    expect(formatHours(ms)).toBe(text);
  });
});

describe('formatMeanTime', () => {
  it.each([
    [null, '—'],
    [42_000, '42 s'],
    [4 * 60_000 + 5_000, '4 min 05 s'],
    [839 * 60_000, '13 h 59 min'],
  ])('%s reads %s', (ms, text) => {
    expect(formatMeanTime(ms)).toBe(text);
  });
});

describe('formatPercent', () => {
  it('shows one decimal, and a dash for no figure', () => {
    expect(formatPercent(839 / 920)).toBe('91.2 %');
    expect(formatPercent(1)).toBe('100.0 %');
    expect(formatPercent(0)).toBe('0.0 %');
    expect(formatPercent(null)).toBe('—');
    expect(formatPercent(Number.NaN)).toBe('—');
  });
});

describe('formatAgo', () => {
  const now = 1_764_000_000_000;
  it.each([
    [null, 'never'],
    [now, 'just now'],
    [now + 3000, 'just now'],
    [now - 12_000, '12 s ago'],
    [now - 5 * 60_000, '5 min ago'],
    [now - 3 * 3_600_000, '3 h ago'],
    [now - 2 * 86_400_000, '2 d ago'],
  ])('%s reads %s', (then, text) => {
    expect(formatAgo(then, now)).toBe(text);
  });
});

describe('describeRssi', () => {
  it('puts the signal in words', () => {
    expect(describeRssi(-50)).toBe('-50 dBm (excellent)');
    expect(describeRssi(-61)).toBe('-61 dBm (good)');
    expect(describeRssi(-70)).toBe('-70 dBm (fair)');
    expect(describeRssi(-90)).toBe('-90 dBm (weak)');
    expect(describeRssi(null)).toBe('—');
  });
});

describe('compareNullable', () => {
  it('sorts numbers and strings both ways, nulls always last', () => {
    const values = [3, null, 1, 2];
    expect([...values].sort((a, b) => compareNullable(a, b, 1))).toEqual([1, 2, 3, null]);
    expect([...values].sort((a, b) => compareNullable(a, b, -1))).toEqual([3, 2, 1, null]);
    expect(['b', 'a', null].sort((a, b) => compareNullable(a, b, 1))).toEqual(['a', 'b', null]);
  });
});

describe('paretoRows', () => {
  it('orders reasons by down time and adds up to the whole', () => {
    const rows = paretoRows([
      { name: 'Unassigned', down_ms: 1000, stops: 1 },
      { name: 'Tooling', down_ms: 3000, stops: 2 },
      { name: 'Cleaning', down_ms: 0, stops: 1 },
    ]);
    expect(rows.map((r) => r.name)).toEqual(['Tooling', 'Unassigned']);
    expect(rows.map((r) => r.cumulative)).toEqual([0.75, 1]);
    expect(rows.map((r) => r.share)).toEqual([0.75, 0.25]);
    expect(paretoRows([])).toEqual([]);
  });
});

describe('formatTarget', () => {
  it.each([
    [null, '—'],
    [0.85, '85 %'],
    [0.875, '87.5 %'],
    [0.9225, '92.25 %'],
    [1, '100 %'],
    [0.29, '29 %'],
  ])('%s reads %s', (ratio, text) => {
    expect(formatTarget(ratio)).toBe(text);
  });
});
