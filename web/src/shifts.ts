// The shift calendar's small rules for the settings form: times typed in 24 h, and where a new
// shift goes so that it does not overlap the ones there are.

import type { Shift } from './api';

/** A 24-hour "HH:MM", as the server takes it (00:00 to 23:59). */
export const TIME_PATTERN = '([01][0-9]|2[0-3]):[0-5][0-9]';

const DAY_MINUTES = 24 * 60;
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'];

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

function hhmm(total: number): string {
  const t = ((total % DAY_MINUTES) + DAY_MINUTES) % DAY_MINUTES;
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

/**
 * The shift "Add shift" makes: the first one 06:00–14:00 on weekdays; after that, eight hours
 * from where the last one ends (less if the first shift starts sooner), on the last one's days,
 * so Early, Late and Night follow one another. When those days are full round the clock, the
 * first shift's hours on the days no shift is on yet (none, when every day has shifts: the days
 * are then for the person to choose).
 */
export function nextShift(shifts: Shift[]): Shift {
  const name = `Shift ${shifts.length + 1}`;
  const last = shifts[shifts.length - 1];
  if (!last) return { name, days: WEEKDAYS, start: '06:00', end: '14:00', breaks: [] };
  const first = shifts[0]!;
  const start = minutes(last.end);
  // Minutes from this start to the first shift's start, going forward round the clock.
  const room = (((minutes(first.start) - start) % DAY_MINUTES) + DAY_MINUTES) % DAY_MINUTES;
  if (room === 0) {
    const used = new Set(shifts.flatMap((s) => s.days));
    const free = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].filter((d) => !used.has(d));
    return { name, days: free, start: first.start, end: first.end, breaks: [] };
  }
  const length = Math.min(8 * 60, room);
  return { name, days: [...last.days], start: hhmm(start), end: hhmm(start + length), breaks: [] };
}
