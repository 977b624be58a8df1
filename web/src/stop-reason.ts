// Giving one stop part a reason from where the operator sees the stop (a timeline bar, a board
// tile): which part that is, and what the dialog says of it. Apart from the pages, so that it is
// tested without a browser.

import type { Stop } from './api';
import { formatDuration } from './format';
import { formatDay, formatTime, localDate, type Span } from './time';

const DAY = 86_400_000;
/** The longest window `GET /api/v1/stops` answers (docs/API.md §9). */
const MAX_WINDOW = 400 * DAY;

/** The stop parts that overlap `[start, end)`, the earliest first. */
export function partsUnder(stops: readonly Stop[], start: number, end: number): Stop[] {
  return stops.filter((p) => p.start < end && p.end > start).sort((a, b) => a.start - b.start);
}

/** The stop part that holds the time `t`; an ongoing part also holds the time since it was read. */
export function partAt(stops: readonly Stop[], t: number): Stop | undefined {
  return stops.find((p) => p.start <= t && (t < p.end || p.ongoing));
}

/** The part of `assetId`'s ongoing stop that goes on now (a split stop's last part). */
export function ongoingPart(stops: readonly Stop[], assetId: number): Stop | undefined {
  return stops.find((p) => p.asset_id === assetId && p.ongoing);
}

/**
 * The window to ask for a machine's ongoing stop in at `now`: stops are listed by their start,
 * so from before the time it has been stopped since (a day back at least, in case `since` is
 * not the stop's start), to a minute ahead; never longer than the API answers.
 */
export function ongoingWindow(since: number | null, now: number): Span {
  const from = Math.min(since ?? now, now - DAY) - 60_000;
  return { from: Math.max(from, now - MAX_WINDOW + 60_000), to: now + 60_000 };
}

/** "Mon 24 Nov, 09:00:00 – 09:30:00 (30 min 00 s)", or "Since Mon 24 Nov, 09:00:00, still going on (12 min 00 s)". */
export function partText(part: Stop, zone: string, now: number, locale?: string): string {
  const at = (ms: number) => `${formatDay(ms, zone, locale)}, ${formatTime(ms, zone, locale)}`;
  if (part.ongoing) return `Since ${at(part.start)}, still going on (${formatDuration(Math.max(part.duration_ms, now - part.start))})`;
  const end = localDate(part.end, zone) === localDate(part.start, zone) ? formatTime(part.end, zone, locale) : at(part.end);
  return `${at(part.start)} – ${end} (${formatDuration(part.duration_ms)})`;
}
