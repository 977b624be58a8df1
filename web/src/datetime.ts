// A date and a time of day typed apart, the time always in 24 h: a browser's `datetime-local`
// field follows its locale (AM/PM in en-US), while the plant reads 13:00. Both are wall-clock
// values in the tenant's time zone; `instantOf` turns them into the instant the server takes.

import { TZDateMini } from '@date-fns/tz';
import { TIME_PATTERN } from './shifts';
import { localDate, parseLocalDateTime } from './time';

/** A 24-hour time with optional seconds: "13:00" or "13:00:30". */
export const TIME_SECONDS_PATTERN = `${TIME_PATTERN}(:[0-5][0-9])?`;

/** What a date-time field holds: a local date `YYYY-MM-DD` and a time `HH:MM[:SS]`, either possibly empty. */
export interface LocalDateTime {
  date: string;
  time: string;
}

export const EMPTY: LocalDateTime = { date: '', time: '' };

/** The date and the time (HH:MM, with :SS only when they are not zero) of `ms` in `zone`. */
export function localParts(ms: number, zone: string): LocalDateTime {
  const d = new TZDateMini(ms, zone);
  const two = (n: number) => String(n).padStart(2, '0');
  const s = d.getSeconds();
  return { date: localDate(ms, zone), time: `${two(d.getHours())}:${two(d.getMinutes())}${s ? `:${two(s)}` : ''}` };
}

/** Whether `time` is a 24-hour time (with seconds when `seconds`). */
export function isTime(time: string, seconds = false): boolean {
  return new RegExp(`^(?:${seconds ? TIME_SECONDS_PATTERN : TIME_PATTERN})$`).test(time);
}

/**
 * The instant the local date and time name in `zone`; throws a sentence naming the field
 * (`what`) when either is missing or malformed, for the form's error note.
 */
export function instantOf(value: LocalDateTime, zone: string, what: string, seconds = false): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value.date)) throw new Error(`${what}: choose a date.`);
  if (!isTime(value.time, seconds)) throw new Error(`${what}: give the time in 24 h as HH:MM${seconds ? ' or HH:MM:SS' : ''}, e.g. 13:00.`);
  return parseLocalDateTime(`${value.date}T${value.time}`, zone);
}
