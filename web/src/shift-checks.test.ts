import { describe, expect, it } from 'vitest';
import type { Shift } from './api';
import { checkShifts, checksSummary, clockMinutes, overlapDay, shiftKey, shiftRefusal } from './shift-checks';

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'];
const shift = (name: string, start: string, end: string, breaks: [string, string][] = [], days = WEEKDAYS): Shift => ({
  name,
  days,
  start,
  end,
  breaks: breaks.map(([s, e]) => ({ start: s, end: e })),
});
const FROM = '2026-11-23';

describe('clockMinutes', () => {
  it('takes HH:MM from 00:00 to 24:00, as the server does', () => {
    expect(clockMinutes('00:00')).toBe(0);
    expect(clockMinutes('14:05')).toBe(845);
    expect(clockMinutes('24:00')).toBe(1440);
    for (const bad of ['24:01', '6:00', '12:60', '2pm', '', '12:00 ']) expect(clockMinutes(bad), bad).toBeNull();
  });
});

describe('checkShifts', () => {
  it('finds nothing in a good calendar, night shifts and their breaks after midnight included', () => {
    const calendar = [shift('Early', '06:00', '14:00', [['10:00', '10:15']]), shift('Night', '22:00', '06:00', [['02:00', '02:30']]), shift('Late', '14:00', '24:00')];
    expect(checkShifts(calendar, FROM)).toEqual({});
  });

  it('says at the field what a time must look like', () => {
    expect(checkShifts([shift('Late', '14:00', '2pm')], FROM)).toEqual({ [shiftKey.end(0)]: 'End must be a time like 14:00' });
    expect(checkShifts([shift('Late', '', '22:00')], FROM)).toEqual({ [shiftKey.start(0)]: 'Start must be a time like 06:00' });
    expect(checkShifts([shift('A', '06:00', '14:00', [['9:00', '10:00']])], FROM)).toEqual({ [shiftKey.breakStart(0, 0)]: 'Break start must be a time like 10:00' });
  });

  it('wants a name and a day', () => {
    expect(checkShifts([shift('  ', '06:00', '14:00', [], [])], FROM)).toEqual({
      [shiftKey.name(0)]: 'Name is required: Early, Late, Night…',
      [shiftKey.days(0)]: 'Pick at least one day the shift starts on',
    });
  });

  it('refuses an end equal to the start, midnight both ways', () => {
    const message = 'End must differ from the start: a shift lasts less than 24 hours';
    expect(checkShifts([shift('A', '06:00', '06:00')], FROM)).toEqual({ [shiftKey.end(0)]: message });
    expect(checkShifts([shift('A', '00:00', '24:00')], FROM)).toEqual({ [shiftKey.end(0)]: message });
  });

  it('keeps breaks inside their shift, non-empty and apart', () => {
    expect(checkShifts([shift('A', '06:00', '14:00', [['13:00', '15:00']])], FROM)).toEqual({
      [shiftKey.break(0, 0)]: 'The break 13:00–15:00 must be inside the shift, 06:00–14:00',
    });
    // Before the start of a day shift is outside it too, measured forward from the start.
    expect(Object.keys(checkShifts([shift('A', '06:00', '14:00', [['05:00', '05:30']])], FROM))).toEqual([shiftKey.break(0, 0)]);
    expect(checkShifts([shift('A', '06:00', '14:00', [['10:00', '10:00']])], FROM)).toEqual({ [shiftKey.break(0, 0)]: 'A break must end after it starts' });
    expect(checkShifts([shift('A', '06:00', '14:00', [['09:00', '10:00'], ['09:30', '11:00']])], FROM)).toEqual({
      [shiftKey.break(0, 0)]: 'Overlaps the break 09:30–11:00',
      [shiftKey.break(0, 1)]: 'Overlaps the break 09:00–10:00',
    });
    // Touching is fine.
    expect(checkShifts([shift('A', '06:00', '14:00', [['09:00', '10:00'], ['10:00', '11:00']])], FROM)).toEqual({});
  });

  it('wants the day it applies from', () => {
    expect(checkShifts([], '')).toEqual({ [shiftKey.from]: 'Applies from must be a day' });
    expect(checkShifts([], '2300-01-01')).toEqual({ [shiftKey.from]: 'Applies from must be a day from 1970 to 2200' });
  });

  it('leaves overlapping shifts and names given twice to the server', () => {
    expect(checkShifts([shift('Early', '06:00', '14:00'), shift('early', '13:00', '21:00')], FROM)).toEqual({});
  });
});

describe('shiftRefusal', () => {
  const early = shift('Early', '06:00', '14:00', [['10:00', '10:15']]);
  const late = shift('Late', '13:00', '21:00');

  it('puts an overlap at both shifts’ hours, with the day they meet', () => {
    expect(shiftRefusal('shifts overlap: Early and Late', [early, late])).toEqual({
      [shiftKey.times(0)]: 'Overlaps Late on Monday: change the hours or the days of one of them',
      [shiftKey.times(1)]: 'Overlaps Early on Monday: change the hours or the days of one of them',
    });
  });

  it('finds the pair by the names as the server trims them, " and " in a name included', () => {
    const a = shift(' Cut and fold ', '06:00', '14:00', [], ['sat']);
    const b = shift('Pack', '05:00', '07:00', [], ['sat']);
    expect(Object.keys(shiftRefusal('shifts overlap: Cut and fold and Pack', [shift('Other', '15:00', '16:00'), a, b]))).toEqual([shiftKey.times(1), shiftKey.times(2)]);
  });

  it('names the day a night shift runs into', () => {
    const night = shift('Night', '22:00', '06:00', [], ['sun']);
    const monday = shift('Early', '05:00', '13:00', [], ['mon']);
    expect(overlapDay(night, monday)).toBe('Monday');
    expect(overlapDay(shift('A', '06:00', '14:00'), shift('B', '14:00', '22:00'))).toBeNull();
  });

  it('reads a shift’s own refusal onto its field', () => {
    expect(shiftRefusal('shifts[1] (Late): end must be HH:MM', [early, shift('Late', '13:00', '25:00')])).toEqual({
      [shiftKey.end(1)]: 'End must be a time like 14:00',
    });
    expect(shiftRefusal('shifts[0] (Early): a shift cannot start and end at the same time', [early])).toEqual({
      [shiftKey.end(0)]: 'End must differ from the start: a shift lasts less than 24 hours',
    });
    expect(shiftRefusal('shifts[0] (Early): days is empty', [early])).toEqual({ [shiftKey.days(0)]: 'Pick at least one day the shift starts on' });
    expect(shiftRefusal('shifts[0] (): name must be 1 to 50 printable characters', [shift('', '06:00', '14:00')])).toEqual({
      [shiftKey.name(0)]: 'Name must be 1 to 50 printable characters',
    });
    expect(shiftRefusal('shifts[0] (Early): mon is listed twice', [early])).toEqual({ [shiftKey.days(0)]: 'Mon is listed twice' });
  });

  it('reads the break the server names, a name holding "): " included', () => {
    const odd = shift('A): B', '06:00', '09:00', [['08:00', '08:30'], ['10:00', '10:15']]);
    expect(shiftRefusal('shifts[0] (A): B): break 10:00–10:15 is not inside the shift', [odd])).toEqual({
      [shiftKey.break(0, 1)]: 'The break 10:00–10:15 must be inside the shift, 06:00–09:00',
    });
    const bad = shift('A', '06:00', '14:00', [['10:00', '10:15'], ['11:00', '1130']]);
    expect(shiftRefusal('shifts[0] (A): break end must be HH:MM', [bad])).toEqual({ [shiftKey.breakEnd(0, 1)]: 'Break end must be a time like 10:15' });
    const overlapping = shift('A', '06:00', '14:00', [['09:00', '10:00'], ['09:30', '11:00']]);
    expect(Object.keys(shiftRefusal('shifts[0] (A): breaks overlap', [overlapping]))).toEqual([shiftKey.break(0, 0), shiftKey.break(0, 1)]);
    expect(shiftRefusal('shifts[0] (A): a shift has at most 16 breaks', [early])).toEqual({ [shiftKey.breaks(0)]: 'A shift has at most 16 breaks' });
  });

  it('puts a name given twice at both shifts, compared as the server does', () => {
    expect(shiftRefusal('two shifts are named early', [early, shift(' early', '14:00', '22:00'), late])).toEqual({
      [shiftKey.name(0)]: 'Shift 2 has the same name: give each shift its own name',
      [shiftKey.name(1)]: 'Shift 1 has the same name: give each shift its own name',
    });
  });

  it('leaves what names no field to the summary', () => {
    expect(shiftRefusal("a calendar holds at most 24 shifts (each on any of the week's days); this one has 25", [early])).toEqual({});
    expect(shiftRefusal('shifts[7] (X): end must be HH:MM', [early])).toEqual({});
    expect(shiftRefusal('shifts[0] (Early): something new', [early])).toEqual({ [shiftKey.shift(0)]: 'Something new' });
  });
});

describe('checksSummary', () => {
  it('says where, for the first two, and how many more', () => {
    const shifts = [shift('Early', '06:00', '2pm'), shift('', 'x', 'y')];
    const errors = checkShifts(shifts, FROM);
    expect(checksSummary(errors, shifts)).toBe(
      'Not saved: Shift 1 (Early): End must be a time like 14:00; Shift 2: Name is required: Early, Late, Night…; and 2 more, marked above.',
    );
    expect(checksSummary({ from: 'Applies from must be a day' }, [])).toBe('Not saved: Applies from must be a day.');
  });
});
