import { describe, expect, it } from 'vitest';
import { instantOf, isTime, localParts } from './datetime';

const utc = (s: string) => Date.parse(s);

// The process runs in Pacific/Auckland (vitest.config.ts): the fields follow the tenant's zone.
describe('24-hour date-time fields', () => {
  it('reads 13:00 in the tenant zone as 13:00 there, whatever the machine zone', () => {
    expect(instantOf({ date: '2026-12-04', time: '13:00' }, 'Europe/Berlin', 'From')).toBe(utc('2026-12-04T12:00:00Z'));
    expect(instantOf({ date: '2026-07-03', time: '13:00' }, 'Europe/Berlin', 'From')).toBe(utc('2026-07-03T11:00:00Z'));
  });

  it('takes seconds only where asked', () => {
    expect(instantOf({ date: '2026-12-04', time: '09:15:30' }, 'UTC', 'Split at', true)).toBe(utc('2026-12-04T09:15:30Z'));
    expect(() => instantOf({ date: '2026-12-04', time: '09:15:30' }, 'UTC', 'From')).toThrow('From: give the time in 24 h as HH:MM');
  });

  it('refuses a 12-hour time, a missing date or time, and hours past 23', () => {
    for (const time of ['1:00 PM', '1:00', '13', '24:00', '12:60', '']) expect(isTime(time), time).toBe(false);
    for (const time of ['00:00', '13:00', '23:59']) expect(isTime(time), time).toBe(true);
    expect(() => instantOf({ date: '', time: '13:00' }, 'UTC', 'To')).toThrow('To: choose a date.');
    expect(() => instantOf({ date: '2026-12-04', time: '1:00 PM' }, 'UTC', 'To')).toThrow('e.g. 13:00');
  });

  it('shows an instant as the tenant reads it, in 24 h, seconds only when there are some', () => {
    expect(localParts(utc('2026-12-04T12:00:00Z'), 'Europe/Berlin')).toEqual({ date: '2026-12-04', time: '13:00' });
    expect(localParts(utc('2026-12-04T23:15:30Z'), 'Europe/Berlin')).toEqual({ date: '2026-12-05', time: '00:15:30' });
  });

  it('round-trips an instant through the fields', () => {
    const t = utc('2026-03-29T01:30:00Z'); // 03:30 CEST, the morning of the spring change
    expect(instantOf(localParts(t, 'Europe/Berlin'), 'Europe/Berlin', 'At', true)).toBe(t);
  });
});
