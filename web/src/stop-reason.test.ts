import { describe, expect, it } from 'vitest';
import type { Stop } from './api';
import { ongoingPart, ongoingWindow, partAt, partText, partsUnder } from './stop-reason';

const MIN = 60_000;
const DAY = 86_400_000;
const T = Date.parse('2025-11-24T08:00:00Z'); // 09:00 in Berlin

function part(asset_id: number, start: number, end: number, extra: Partial<Stop> = {}): Stop {
  return {
    id: `${asset_id}-${extra.stop_start ?? start}-${start}`,
    asset_id,
    stop_start: start,
    start,
    end,
    duration_ms: end - start,
    stop_duration_ms: end - start,
    ongoing: false,
    short: false,
    reason_id: null,
    comment: '',
    ...extra,
  };
}

describe('the stop part under a bar', () => {
  // A stop 09:00–09:30 split at 09:15, and a later one.
  const first = part(7, T, T + 15 * MIN);
  const second = part(7, T + 15 * MIN, T + 30 * MIN, { stop_start: T });
  const later = part(7, T + 60 * MIN, T + 64 * MIN);
  const stops = [later, second, first]; // the API's order: newest first

  it('is the part that holds the time clicked', () => {
    expect(partAt(stops, T + 10 * MIN)).toBe(first);
    expect(partAt(stops, T + 15 * MIN)).toBe(second);
    expect(partAt(stops, T + 30 * MIN)).toBeUndefined();
    expect(partAt(stops, T + 45 * MIN)).toBeUndefined();
  });

  it('lists the parts of one bar earliest first', () => {
    expect(partsUnder(stops, T, T + 30 * MIN)).toEqual([first, second]);
    expect(partsUnder(stops, T + 30 * MIN, T + 60 * MIN)).toEqual([]);
  });

  it('holds the time since it was read for an ongoing part', () => {
    const going = part(7, T, T + 5 * MIN, { ongoing: true });
    expect(partAt([going], T + 9 * MIN)).toBe(going);
  });
});

describe("a board tile's ongoing stop", () => {
  it('is the ongoing part of that machine, the last part of a split stop', () => {
    const old = part(3, T - 60 * MIN, T - 50 * MIN);
    const early = part(3, T, T + 5 * MIN);
    const going = part(3, T + 5 * MIN, T + 9 * MIN, { stop_start: T, ongoing: true });
    const other = part(4, T, T + 9 * MIN, { ongoing: true });
    expect(ongoingPart([other, going, early, old], 3)).toBe(going);
    expect(ongoingPart([old, early], 3)).toBeUndefined();
  });

  it('is looked for from before the machine stopped, a day back at least, to a minute ahead', () => {
    const now = T + 10 * MIN;
    expect(ongoingWindow(T, now)).toEqual({ from: now - DAY - MIN, to: now + MIN });
    expect(ongoingWindow(now - 3 * DAY, now)).toEqual({ from: now - 3 * DAY - MIN, to: now + MIN });
    expect(ongoingWindow(null, now)).toEqual({ from: now - DAY - MIN, to: now + MIN });
    // Never more than the 400 days the API answers.
    const w = ongoingWindow(now - 900 * DAY, now);
    expect(w.to - w.from).toBeLessThanOrEqual(400 * DAY);
  });
});

describe('what the dialog says of the part', () => {
  it('gives its span and length in the tenant zone, or that it goes on', () => {
    expect(partText(part(7, T, T + 30 * MIN), 'Europe/Berlin', T, 'en-GB')).toBe('Mon 24 Nov, 09:00:00 – 09:30:00 (30 min 00 s)');
    expect(partText(part(7, T, T + MIN, { ongoing: true }), 'Europe/Berlin', T + 12 * MIN, 'en-GB')).toBe('Since Mon 24 Nov, 09:00:00, still going on (12 min 00 s)');
    // A stop into the next day names both days.
    expect(partText(part(7, T + 14 * 60 * MIN, T + 16 * 60 * MIN), 'Europe/Berlin', T, 'en-GB')).toBe('Mon 24 Nov, 23:00:00 – Tue 25 Nov, 01:00:00 (2 h 00 min)');
  });
});
