// The shift calendar form's messages at its fields: the checks the page makes before it sends
// (a name, a day, times typed as HH:MM, an end that is not the start, breaks inside their shift
// and apart), and the server's `invalid_shifts` refusals read back onto the fields they name:
// "shifts[1] (Late): end must be HH:MM" is Late's End, "shifts[0] (A): break 10:00–10:15 is not
// inside the shift" is that break, "shifts overlap: Early and Late" is the times of both, "two
// shifts are named Early" the names of both. Which shifts overlap across the week, and two shifts
// named alike, are left to the server: it has the whole rule (crates/server/src/calendar/shifts.rs).

import type { Shift } from './api';
import { sentence, type FieldErrors } from './field-errors';

/** The keys of the form's fields: a shift's, a break's, the day the calendar applies from. */
export const shiftKey = {
  name: (i: number) => `shift.${i}.name`,
  days: (i: number) => `shift.${i}.days`,
  start: (i: number) => `shift.${i}.start`,
  end: (i: number) => `shift.${i}.end`,
  /** The shift's hours as a whole (Starts and Ends): two shifts that overlap. */
  times: (i: number) => `shift.${i}.times`,
  /** Its breaks as a whole: too many. */
  breaks: (i: number) => `shift.${i}.breaks`,
  /** One break as a whole (both its times): outside the shift, empty, overlapping another. */
  break: (i: number, k: number) => `shift.${i}.break.${k}`,
  breakStart: (i: number, k: number) => `shift.${i}.break.${k}.start`,
  breakEnd: (i: number, k: number) => `shift.${i}.break.${k}.end`,
  /** Anything else about the shift. */
  shift: (i: number) => `shift.${i}`,
  from: 'from',
} as const;

const DAY = 24 * 60;
const WEEK = 7 * DAY;
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const DAY_CODES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** "HH:MM", 00:00 to 24:00 (midnight), as the server takes it; null when it is not one. */
export function clockMinutes(text: string): number | null {
  const m = /^(\d\d):(\d\d)$/.exec(text);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const total = h * 60 + min;
  return min < 60 && total <= DAY ? total : null;
}

/** Minutes from `from` forward to `to` round the clock (0 when equal; 24:00 is 00:00). */
function forward(from: number, to: number): number {
  return (((to - from) % DAY) + DAY) % DAY;
}

/** A shift's start and length in minutes, when both its times are good and differ. */
function hours(s: Shift): { start: number; length: number } | null {
  const start = clockMinutes(s.start);
  const end = clockMinutes(s.end);
  if (start === null || end === null) return null;
  const length = forward(start % DAY, end % DAY);
  return length === 0 ? null : { start: start % DAY, length };
}

/** A break as an offset from its shift's start and a length (minutes), when its times are good. */
function breakSpan(shift: { start: number }, b: { start: string; end: string }): { offset: number; length: number } | null {
  const bs = clockMinutes(b.start);
  const be = clockMinutes(b.end);
  if (bs === null || be === null) return null;
  return { offset: forward(shift.start, bs % DAY), length: forward(bs % DAY, be % DAY) };
}

/** Pairs of a shift's breaks that overlap (indices), the server's rule: they may touch. */
function overlappingBreaks(shift: Shift): [number, number][] {
  const h = hours(shift);
  if (!h) return [];
  const spans = shift.breaks.map((b) => breakSpan(h, b));
  const pairs: [number, number][] = [];
  spans.forEach((a, i) =>
    spans.forEach((b, j) => {
      if (j <= i || !a || !b || a.length === 0 || b.length === 0) return;
      if (a.offset < b.offset + b.length && b.offset < a.offset + a.length) pairs.push([i, j]);
    }),
  );
  return pairs;
}

/**
 * The checks the browser makes before it sends the calendar, as messages by field. `from` is
 * the "Applies from" day (`YYYY-MM-DD`).
 */
export function checkShifts(shifts: Shift[], from: string): FieldErrors {
  const errors: FieldErrors = {};
  const put = (key: string, message: string) => {
    if (!(key in errors)) errors[key] = message;
  };
  shifts.forEach((s, i) => {
    const name = s.name.trim();
    if (!name) put(shiftKey.name(i), 'Name is required: Early, Late, Night…');
    else if ([...name].length > 50) put(shiftKey.name(i), 'Name must be at most 50 characters');
    const start = clockMinutes(s.start);
    const end = clockMinutes(s.end);
    if (start === null) put(shiftKey.start(i), 'Start must be a time like 06:00');
    if (end === null) put(shiftKey.end(i), 'End must be a time like 14:00');
    if (start !== null && end !== null && start % DAY === end % DAY) {
      put(shiftKey.end(i), 'End must differ from the start: a shift lasts less than 24 hours');
    }
    if (s.days.length === 0) put(shiftKey.days(i), 'Pick at least one day the shift starts on');
    const h = hours(s);
    s.breaks.forEach((b, k) => {
      const bs = clockMinutes(b.start);
      const be = clockMinutes(b.end);
      if (bs === null) put(shiftKey.breakStart(i, k), 'Break start must be a time like 10:00');
      if (be === null) put(shiftKey.breakEnd(i, k), 'Break end must be a time like 10:15');
      if (bs === null || be === null) return;
      if (bs % DAY === be % DAY) put(shiftKey.break(i, k), 'A break must end after it starts');
      else if (h) {
        const span = breakSpan(h, b)!;
        if (span.offset + span.length > h.length) put(shiftKey.break(i, k), `The break ${b.start}–${b.end} must be inside the shift, ${s.start}–${s.end}`);
      }
    });
    for (const [a, b] of overlappingBreaks(s)) {
      const other = (k: number) => `${s.breaks[k]!.start}–${s.breaks[k]!.end}`;
      put(shiftKey.break(i, a), `Overlaps the break ${other(b)}`);
      put(shiftKey.break(i, b), `Overlaps the break ${other(a)}`);
    }
  });
  const day = /^(\d{4})-\d\d-\d\d$/.exec(from);
  if (!day) put(shiftKey.from, 'Applies from must be a day');
  else if (Number(day[1]) < 1970 || Number(day[1]) > 2200) put(shiftKey.from, 'Applies from must be a day from 1970 to 2200');
  return errors;
}

/**
 * The weekday on which two shifts first meet, by the server's rule (each occurrence runs from
 * its day's start for its length, round the week), or null when they do not.
 */
export function overlapDay(a: Shift, b: Shift): string | null {
  const ha = hours(a);
  const hb = hours(b);
  if (!ha || !hb) return null;
  const at = (s: Shift, h: { start: number }) => s.days.map((d) => DAY_CODES.indexOf(d.trim().toLowerCase())).filter((d) => d >= 0).map((d) => d * DAY + h.start);
  let first: number | null = null;
  for (const sa of at(a, ha)) {
    for (const sb of at(b, hb)) {
      // Where the later one starts inside the earlier one is where they meet.
      const meet = (((sb - sa) % WEEK) + WEEK) % WEEK < ha.length ? sb : (((sa - sb) % WEEK) + WEEK) % WEEK < hb.length ? sa : null;
      if (meet !== null && (first === null || meet < first)) first = meet;
    }
  }
  return first === null ? null : WEEKDAYS[Math.floor(first / DAY)]!;
}

/** A refusal's words at a time field, in the page's words. */
const TIME_MESSAGES: Record<string, string> = {
  'start must be HH:MM': 'Start must be a time like 06:00',
  'end must be HH:MM': 'End must be a time like 14:00',
  'a shift cannot start and end at the same time': 'End must differ from the start: a shift lasts less than 24 hours',
};

/**
 * The server's `invalid_shifts` message read back onto the fields of the calendar it refused
 * (`shifts`, as sent). Empty when it names no field (a calendar of more than 24 shifts): the
 * message then stays in the summary under the form.
 */
export function shiftRefusal(message: string, shifts: Shift[]): FieldErrors {
  const errors: FieldErrors = {};
  const overlap = /^shifts overlap: ([\s\S]*)$/.exec(message);
  if (overlap) {
    // Names may hold " and ": find the pair the server named, by the names as it trims them.
    shifts.forEach((a, i) =>
      shifts.forEach((b, j) => {
        if (i >= j || errors[shiftKey.times(i)] || errors[shiftKey.times(j)]) return;
        const [x, y] = [a.name.trim(), b.name.trim()];
        if (overlap[1] !== `${x} and ${y}` && overlap[1] !== `${y} and ${x}`) return;
        const day = overlapDay(a, b);
        const on = day ? ` on ${day}` : '';
        errors[shiftKey.times(i)] = `Overlaps ${y}${on}: change the hours or the days of one of them`;
        errors[shiftKey.times(j)] = `Overlaps ${x}${on}: change the hours or the days of one of them`;
      }),
    );
    return errors;
  }
  const twice = /^two shifts are named ([\s\S]*)$/.exec(message);
  if (twice) {
    const name = twice[1]!.toLowerCase();
    const same = shifts.map((s, i) => (s.name.trim().toLowerCase() === name ? i : -1)).filter((i) => i >= 0);
    if (same.length > 1) {
      for (const i of same) errors[shiftKey.name(i)] = `Shift ${same.find((j) => j !== i)! + 1} has the same name: give each shift its own name`;
    }
    return errors;
  }
  const at = /^shifts\[(\d+)\] \(/.exec(message);
  const i = at ? Number(at[1]) : -1;
  const shift = shifts[i];
  if (!shift) return errors;
  // The name as sent follows the index; a name may hold "): ", so it is cut by what was sent.
  const prefix = `shifts[${i}] (${shift.name}): `;
  const what = message.startsWith(prefix) ? message.slice(prefix.length) : message.replace(/^shifts\[\d+\] \([\s\S]*?\): /, '');
  const time = TIME_MESSAGES[what];
  if (time) {
    errors[what.startsWith('start') ? shiftKey.start(i) : shiftKey.end(i)] = time;
    return errors;
  }
  if (what.startsWith('name ')) errors[shiftKey.name(i)] = sentence(what);
  else if (what === 'days is empty') errors[shiftKey.days(i)] = 'Pick at least one day the shift starts on';
  else if (what.startsWith('unknown day') || what.endsWith('is listed twice')) errors[shiftKey.days(i)] = sentence(what);
  else if (what === 'break start must be HH:MM' || what === 'break end must be HH:MM') {
    const end = what.startsWith('break end');
    const k = Math.max(0, shift.breaks.findIndex((b) => clockMinutes(end ? b.end : b.start) === null));
    errors[end ? shiftKey.breakEnd(i, k) : shiftKey.breakStart(i, k)] = end ? 'Break end must be a time like 10:15' : 'Break start must be a time like 10:00';
  } else if (/^break [\s\S]*–[\s\S]* is not inside the shift$/.test(what)) {
    const k = shift.breaks.findIndex((b) => what === `break ${b.start}–${b.end} is not inside the shift`);
    const b = shift.breaks[k];
    if (b) errors[shiftKey.break(i, k)] = `The break ${b.start}–${b.end} must be inside the shift, ${shift.start}–${shift.end}`;
    else errors[shiftKey.breaks(i)] = sentence(what);
  } else if (what === 'breaks overlap') {
    const pairs = overlappingBreaks(shift);
    if (pairs.length === 0) errors[shiftKey.breaks(i)] = 'Breaks must not overlap';
    for (const [a, b] of pairs) {
      errors[shiftKey.break(i, a)] ??= `Overlaps the break ${shift.breaks[b]!.start}–${shift.breaks[b]!.end}`;
      errors[shiftKey.break(i, b)] ??= `Overlaps the break ${shift.breaks[a]!.start}–${shift.breaks[a]!.end}`;
    }
  } else if (/breaks$/.test(what)) errors[shiftKey.breaks(i)] = sentence(what);
  else errors[shiftKey.shift(i)] = sentence(what);
  return errors;
}

/** Which shift a field key is of (its index), or null for the calendar's own fields. */
export function shiftOfKey(key: string): number | null {
  const m = /^shift\.(\d+)/.exec(key);
  return m ? Number(m[1]) : null;
}

/**
 * The summary under the form of what the page found before sending: "Not saved: Shift 2
 * (Late): End must be a time like 14:00." For more, the first two and how many more.
 */
export function checksSummary(errors: FieldErrors, shifts: Shift[], order: readonly string[] = Object.keys(errors)): string {
  const keys = order.filter((k) => k in errors);
  const where = (k: string) => {
    const i = shiftOfKey(k);
    if (i === null) return '';
    const name = shifts[i]?.name.trim();
    return `Shift ${i + 1}${name ? ` (${name})` : ''}: `;
  };
  const shown = keys.slice(0, 2).map((k) => `${where(k)}${errors[k]}`);
  const more = keys.length - shown.length;
  return `Not saved: ${shown.join('; ')}${more > 0 ? `; and ${more} more, marked above` : ''}.`;
}
