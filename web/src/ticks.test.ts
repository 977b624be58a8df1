import { describe, expect, it } from 'vitest';
import { localMidnights, shortDay, thinTicks } from './ticks';
import { localDaySpan, parseLocalDateTime } from './time';

const DAY = 86_400_000;

describe('thinTicks', () => {
  // 30 days, evenly spread over a plot `width` pixels wide.
  const days = Array.from({ length: 30 }, (_, i) => i * DAY);
  const at = (width: number) => days.map((_, i) => (i / 29) * width);

  it('labels every day when there is room', () => {
    expect(thinTicks(days, at(3000), 50)).toEqual(days);
  });

  it('labels every few days at a desk’s width, never closer than asked', () => {
    const shown = thinTicks(days, at(520), 50);
    // 520 px for 29 gaps of about 18 px: every third day is the first step 50 px apart.
    expect(shown).toEqual(days.filter((_, i) => i % 3 === 0));
  });

  it('labels about weekly on a phone', () => {
    const shown = thinTicks(days, at(280), 50);
    expect(shown.length).toBeLessThanOrEqual(280 / 50 + 1);
    expect(shown.length).toBeGreaterThanOrEqual(3);
    expect(shown[0]).toBe(0);
  });

  it.each([200, 280, 390, 520, 800, 1200])('keeps the labels apart at %d px', (width) => {
    const positions = at(width);
    const shown = thinTicks(days, positions, 46);
    const xs = shown.map((v) => positions[days.indexOf(v)]!);
    for (let i = 1; i < xs.length; i++) expect(xs[i]! - xs[i - 1]!).toBeGreaterThanOrEqual(46);
  });

  it('keeps one label when nothing fits, and copes with none', () => {
    expect(thinTicks(days, at(10), 50)).toEqual([0]);
    expect(thinTicks([], [], 50)).toEqual([]);
    expect(thinTicks([5], [0], 50)).toEqual([5]);
  });
});

describe('localMidnights', () => {
  it('gives the local midnights in the range, across a daylight-saving change', () => {
    const zone = 'Europe/Berlin';
    // 30 Mar 2025 is 23 hours long in Berlin.
    const from = parseLocalDateTime('2025-03-29T12:00', zone);
    const to = parseLocalDateTime('2025-04-01T00:00', zone);
    expect(localMidnights(from, to, zone)).toEqual([
      localDaySpan('2025-03-30', zone).from,
      localDaySpan('2025-03-31', zone).from,
      localDaySpan('2025-04-01', zone).from,
    ]);
    expect(localDaySpan('2025-03-31', zone).from - localDaySpan('2025-03-30', zone).from).toBe(23 * 3_600_000);
  });

  it('includes a range that starts on a midnight', () => {
    const zone = 'America/New_York';
    const from = localDaySpan('2025-12-01', zone).from;
    expect(localMidnights(from, from + 2 * DAY, zone)).toEqual([from, from + DAY, from + 2 * DAY]);
  });
});

describe('shortDay', () => {
  it('names the day in the tenant’s zone, short', () => {
    const t = Date.UTC(2025, 10, 30, 23, 30); // 30 Nov 23:30 UTC is 1 Dec in Berlin
    expect(shortDay(t, 'Europe/Berlin', 'en-GB')).toBe('1 Dec');
    expect(shortDay(t, 'UTC', 'en-GB')).toBe('30 Nov');
  });
});
