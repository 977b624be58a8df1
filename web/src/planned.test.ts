import { describe, expect, it } from 'vitest';
import { EMPTY_FORM, daysText, downtimeBody, removeLabel, whenText, withDay } from './planned';

const utc = (s: string) => Date.parse(s);
const ZONE = 'Europe/Berlin';

describe('the planned-downtime form', () => {
  it('posts a one-off span read in the tenant zone', () => {
    const body = downtimeBody({ ...EMPTY_FORM, assetId: '7', from: { date: '2026-12-04', time: '13:00' }, to: { date: '2026-12-04', time: '14:00' }, note: 'oil' }, ZONE);
    expect(body).toEqual({ asset_id: 7, note: 'oil', from: utc('2026-12-04T12:00:00Z'), to: utc('2026-12-04T13:00:00Z') });
  });

  it('refuses a one-off that ends before it starts', () => {
    const form = { ...EMPTY_FORM, from: { date: '2026-12-04', time: '14:00' }, to: { date: '2026-12-04', time: '13:00' } };
    expect(() => downtimeBody(form, ZONE)).toThrow('The end is not after the start.');
  });

  it('posts weekly times as typed, from now on and for good unless days are given', () => {
    const weekly = { ...EMPTY_FORM, repeat: 'weekly' as const, days: ['fri'], start: '13:00', end: '14:00' };
    expect(downtimeBody(weekly, ZONE)).toEqual({ asset_id: null, note: '', weekly: { days: ['fri'], start: '13:00', end: '14:00' } });
    expect(downtimeBody({ ...weekly, firstDay: '2026-12-07', lastDay: '2027-01-31' }, ZONE)).toEqual({
      asset_id: null,
      note: '',
      weekly: { days: ['fri'], start: '13:00', end: '14:00' },
      // Local midnight of the first day, and the midnight after the last.
      from: utc('2026-12-06T23:00:00Z'),
      to: utc('2027-01-31T23:00:00Z'),
    });
  });

  it('says what a weekly one lacks', () => {
    const weekly = { ...EMPTY_FORM, repeat: 'weekly' as const, days: ['fri'], start: '13:00', end: '14:00' };
    expect(() => downtimeBody({ ...weekly, days: [] }, ZONE)).toThrow('Choose the days');
    expect(() => downtimeBody({ ...weekly, start: '1:00 PM' }, ZONE)).toThrow('Starts: give the time in 24 h');
    expect(() => downtimeBody({ ...weekly, firstDay: '2026-12-07', lastDay: '2026-12-01' }, ZONE)).toThrow('The last day is before the first day.');
  });

  it('keeps the days in the order of the week', () => {
    expect(withDay(['fri'], 'mon', true)).toEqual(['mon', 'fri']);
    expect(withDay(['mon', 'fri'], 'mon', false)).toEqual(['fri']);
  });
});

describe('the planned-downtime list', () => {
  it('names the days, a run of three or more as a range', () => {
    expect(daysText(['fri'])).toBe('Fri');
    expect(daysText(['mon', 'wed', 'fri'])).toBe('Mon, Wed, Fri');
    expect(daysText(['fri', 'mon', 'tue', 'wed', 'thu'])).toBe('Mon–Fri');
    expect(daysText(['sat', 'sun'])).toBe('Sat, Sun');
    expect(daysText(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).toBe('day');
  });

  it('says when a weekly one is, from its first day', () => {
    const weekly = { days: ['fri'], start: '13:00', end: '14:00' };
    expect(whenText({ from: utc('2026-12-06T23:00:00Z'), to: null, weekly }, ZONE, 'en-GB')).toBe('Every Fri 13:00–14:00 (from 7 Dec 2026)');
    expect(whenText({ from: utc('2026-12-06T23:00:00Z'), to: utc('2027-01-31T23:00:00Z'), weekly }, ZONE, 'en-GB')).toBe('Every Fri 13:00–14:00 (7 Dec 2026 to 31 Jan 2027)');
    // Added without a first day: from the moment it was added.
    expect(whenText({ from: utc('2026-12-07T09:32:00Z'), to: null, weekly }, ZONE, 'en-GB')).toBe('Every Fri 13:00–14:00 (from 7 Dec 2026, 10:32)');
  });

  it('says when a one-off is, in 24 h', () => {
    expect(whenText({ from: utc('2026-12-04T12:00:00Z'), to: utc('2026-12-04T13:00:00Z'), weekly: null }, ZONE, 'en-US')).toMatch(/13:00–14:00$/);
    expect(whenText({ from: utc('2026-12-04T21:00:00Z'), to: utc('2026-12-05T05:00:00Z'), weekly: null }, ZONE, 'en-GB')).toBe('4 Dec 2026, 22:00 – 5 Dec 2026, 06:00');
  });

  it('names the Remove buttons apart', () => {
    expect(removeLabel({ from: utc('2026-12-04T12:00:00Z'), to: utc('2026-12-04T13:00:00Z'), weekly: null }, ZONE, 'en-GB')).toBe('Remove planned downtime from 4 Dec 2026, 13:00');
    expect(removeLabel({ from: utc('2026-12-06T23:00:00Z'), to: null, weekly: { days: ['fri'], start: '13:00', end: '14:00' } }, ZONE, 'en-GB')).toBe(
      'Remove planned downtime every Fri 13:00–14:00 (from 7 Dec 2026)',
    );
  });
});
