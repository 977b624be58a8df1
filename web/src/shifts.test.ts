import { describe, expect, it } from 'vitest';
import type { Shift } from './api';
import { nextShift, TIME_PATTERN } from './shifts';

const shift = (start: string, end: string, days = ['mon', 'tue', 'wed', 'thu', 'fri']): Shift => ({
  name: 's',
  days,
  start,
  end,
  breaks: [],
});

describe('nextShift', () => {
  it('starts with an early shift on weekdays', () => {
    expect(nextShift([])).toEqual({ name: 'Shift 1', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '06:00', end: '14:00', breaks: [] });
  });

  it('follows the last shift, on its days, without overlapping the first', () => {
    const early = shift('06:00', '14:00', ['mon', 'sat']);
    const late = nextShift([early]);
    expect(late).toMatchObject({ name: 'Shift 2', start: '14:00', end: '22:00', days: ['mon', 'sat'] });
    const night = nextShift([early, late]);
    expect(night).toMatchObject({ start: '22:00', end: '06:00' });
    // Two shifts of ten hours leave four: the third gets those.
    expect(nextShift([shift('06:00', '16:00'), shift('16:00', '02:00')])).toMatchObject({ start: '02:00', end: '06:00' });
  });

  it('goes to the free days once the days it would follow are full round the clock', () => {
    const day = [shift('06:00', '14:00'), shift('14:00', '22:00'), shift('22:00', '06:00')];
    expect(nextShift(day)).toMatchObject({ name: 'Shift 4', start: '06:00', end: '14:00', days: ['sat', 'sun'] });
    const everyDay = day.map((s) => ({ ...s, days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] }));
    expect(nextShift(everyDay).days).toEqual([]);
  });
});

describe('TIME_PATTERN', () => {
  it('takes 24-hour times only', () => {
    const re = new RegExp(`^(?:${TIME_PATTERN})$`);
    for (const ok of ['00:00', '06:30', '13:05', '23:59']) expect(re.test(ok), ok).toBe(true);
    for (const bad of ['24:00', '6:30', '1:05 PM', '12:60', '']) expect(re.test(bad), bad).toBe(false);
  });
});
