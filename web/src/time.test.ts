import { describe, expect, it } from 'vitest';
import {
  dayStart,
  daySpan,
  formatDateTime,
  formatTime,
  isTimeZone,
  localDate,
  localDateTime,
  localDaySpan,
  parseLocalDateTime,
  periodSpan,
  shiftSpan,
  timeZones,
  weekdayOf,
} from './time';

const HOUR = 3_600_000;
const utc = (s: string) => Date.parse(s);

// These run with the process in Pacific/Auckland (vitest.config.ts): the helpers must follow the
// tenant's zone, never the machine's.
describe('local days in the tenant zone', () => {
  it('runs the test process in a zone that is not the tenant zone', () => {
    expect(Intl.DateTimeFormat().resolvedOptions().timeZone).toBe('Pacific/Auckland');
  });

  it('cuts a Berlin day at Berlin midnight', () => {
    const span = daySpan(utc('2025-11-24T16:00:00Z'), 'Europe/Berlin');
    expect(span).toEqual({ from: utc('2025-11-23T23:00:00Z'), to: utc('2025-11-24T23:00:00Z') });
  });

  it('gives the fall-back Sunday 25 hours and the spring-forward Sunday 23', () => {
    const fall = localDaySpan('2026-10-25', 'Europe/Berlin');
    expect(fall.from).toBe(utc('2026-10-24T22:00:00Z'));
    expect(fall.to - fall.from).toBe(25 * HOUR);
    const spring = localDaySpan('2026-03-29', 'Europe/Berlin');
    expect(spring.to - spring.from).toBe(23 * HOUR);
  });

  it('names the worked example window of docs/ANALYTICS.md', () => {
    const span = periodSpan('custom', utc('2026-11-01T00:00:00Z'), 'Europe/Berlin', {
      from: '2026-10-24',
      to: '2026-10-25',
    });
    expect(span.from).toBe(Date.parse('2026-10-24T00:00:00+02:00'));
    expect(span.to).toBe(Date.parse('2026-10-26T00:00:00+01:00'));
    expect(span.to - span.from).toBe(49 * HOUR);
  });

  it('knows which day it is in the zone, not in UTC', () => {
    // 23:30 UTC on the 24th is already the 25th in Berlin and still the 24th in New York.
    const t = utc('2025-11-24T23:30:00Z');
    expect(localDate(t, 'Europe/Berlin')).toBe('2025-11-25');
    expect(localDate(t, 'America/New_York')).toBe('2025-11-24');
    expect(dayStart(t, 'America/New_York')).toBe(utc('2025-11-24T05:00:00Z'));
  });
});

describe('periods', () => {
  const now = utc('2025-11-26T10:00:00Z'); // a Wednesday
  const zone = 'Europe/Berlin';

  it('today and yesterday', () => {
    expect(periodSpan('today', now, zone)).toEqual({
      from: utc('2025-11-25T23:00:00Z'),
      to: utc('2025-11-26T23:00:00Z'),
    });
    expect(periodSpan('yesterday', now, zone)).toEqual({
      from: utc('2025-11-24T23:00:00Z'),
      to: utc('2025-11-25T23:00:00Z'),
    });
  });

  it('this week starts on Monday, like the server buckets', () => {
    expect(periodSpan('this_week', now, zone)).toEqual({
      from: utc('2025-11-23T23:00:00Z'),
      to: utc('2025-11-30T23:00:00Z'),
    });
  });

  it('last 7 and 30 days end with today', () => {
    const seven = periodSpan('last_7', now, zone);
    expect(seven.to).toBe(utc('2025-11-26T23:00:00Z'));
    expect(seven.to - seven.from).toBe(7 * 24 * HOUR);
    const thirty = periodSpan('last_30', now, zone);
    expect(thirty.from).toBe(utc('2025-10-27T23:00:00Z'));
    expect(thirty.to - thirty.from).toBe(30 * 24 * HOUR);
    // 30 local days across the end of summer time (26 October): one hour longer.
    const across = periodSpan('last_30', utc('2025-11-10T10:00:00Z'), zone);
    expect(across).toEqual({ from: utc('2025-10-11T22:00:00Z'), to: utc('2025-11-10T23:00:00Z') });
    expect(across.to - across.from).toBe(30 * 24 * HOUR + HOUR);
  });

  it('refuses a custom period that ends before it starts', () => {
    expect(() => periodSpan('custom', now, zone, { from: '2025-11-20', to: '2025-11-19' })).toThrow();
    expect(() => periodSpan('custom', now, zone)).toThrow();
  });
});

describe('wall-clock inputs', () => {
  it('round-trips a datetime-local value', () => {
    const t = utc('2025-11-24T16:05:00Z');
    expect(localDateTime(t, 'Europe/Berlin')).toBe('2025-11-24T17:05');
    expect(parseLocalDateTime('2025-11-24T17:05', 'Europe/Berlin')).toBe(t);
    expect(parseLocalDateTime('2025-11-24T17:05:30', 'Asia/Kolkata')).toBe(utc('2025-11-24T11:35:30Z'));
  });

  it('takes the first of the two 02:30 on the fall-back night', () => {
    expect(parseLocalDateTime('2026-10-25T02:30', 'Europe/Berlin')).toBe(utc('2026-10-25T00:30:00Z'));
  });

  it('rejects what is not a date and time', () => {
    expect(() => parseLocalDateTime('yesterday', 'UTC')).toThrow();
    expect(() => localDaySpan('2025-13', 'UTC')).toThrow();
  });
});

describe('display', () => {
  it('shows times in the tenant zone with a 24-hour clock', () => {
    const t = utc('2025-11-24T16:00:04Z');
    expect(formatTime(t, 'Europe/Berlin', 'en-GB')).toBe('17:00:04');
    expect(formatTime(t, 'America/New_York', 'en-US', false)).toBe('11:00');
    expect(formatDateTime(t, 'Europe/Berlin', 'en-GB')).toBe('24 Nov 2025, 17:00');
  });

  it('knows real zones from made-up ones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    const zones = timeZones('Etc/GMT+5');
    expect(zones).toContain('UTC');
    expect(zones).toContain('Europe/Berlin');
    expect(zones).toContain('Etc/GMT+5');
  });
});

describe('shifts', () => {
  it('runs a night shift into the next day, nine hours over the fall-back night', () => {
    // docs/ANALYTICS.md: Night, Saturday 22:00–06:00, is 9 h on 24/25 October 2026 in Berlin.
    const night = shiftSpan('2026-10-24', '22:00', '06:00', 'Europe/Berlin');
    expect(night).toEqual({ from: utc('2026-10-24T20:00:00Z'), to: utc('2026-10-25T05:00:00Z') });
    const day = shiftSpan('2026-10-25', '08:00', '16:00', 'Europe/Berlin');
    expect(day).toEqual({ from: utc('2026-10-25T07:00:00Z'), to: utc('2026-10-25T15:00:00Z') });
  });

  it('names weekdays as the calendar does', () => {
    expect(weekdayOf('2026-10-24')).toBe('sat');
    expect(weekdayOf('2026-10-26')).toBe('mon');
  });
});
