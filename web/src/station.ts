// What the station page (a tablet beside a line) works out, apart from the page so that it is
// tested without a browser: which machines it shows, which stops still need a reason, the reason
// buttons by category, when a long stop prompts the operator, and the undo window of a reason
// just given.

import type { Asset, AssetState, Reason, Stop } from './api';
import { formatDay, formatTime, localDate, type Span } from './time';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** How far back the station lists stops: about a shift. */
export const STATION_WINDOW_MS = 8 * HOUR;
/** How long a reason just given can be taken back with one tap. */
export const UNDO_MS = 8 * SECOND;
/** How many stops a machine's card lists; the rest are on the Stops page. */
export const SHOWN_PER_MACHINE = 6;

/**
 * The window the station asks for at `now`: the last eight hours, and a minute ahead so that a
 * stop that begins while the answer is on its way is in it (stops are listed by their start).
 */
export function stationWindow(now: number): Span {
  return { from: now - STATION_WINDOW_MS, to: now + MINUTE };
}

/** The lines the machines stand on, for the picker: each once, in the order people count them. */
export function linesOf(assets: readonly Pick<Asset, 'line'>[]): string[] {
  const lines = new Set<string>();
  for (const a of assets) if (a.line) lines.add(a.line);
  return [...lines].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
}

/** The machines of one line, or all of them (`line` null), in the API's order. */
export function machinesOf<A extends Pick<Asset, 'line'>>(assets: readonly A[], line: string | null): A[] {
  return line === null ? [...assets] : assets.filter((a) => a.line === line);
}

/** A machine's short-stop threshold in ms: its own, else the tenant's. */
export function thresholdMs(asset: Pick<Asset, 'short_stop_threshold_s'> | undefined, tenantS: number): number {
  return (asset?.short_stop_threshold_s ?? tenantS) * SECOND;
}

/** How long the whole stop has lasted at `now`: an ongoing one grows while the page is open. */
export function stopElapsed(stop: Stop, now: number): number {
  return stop.ongoing ? Math.max(stop.stop_duration_ms, now - stop.stop_start) : stop.stop_duration_ms;
}

/**
 * Whether a stop is long: the server said so when it was read, or, still going on, it has
 * reached the threshold since (the server calls an ongoing stop short until it does).
 */
export function isLong(stop: Stop, threshold: number, now: number): boolean {
  return !stop.short || (stop.ongoing && stopElapsed(stop, now) >= threshold);
}

/** Names one stop whatever part of it is at hand: the asset and when the whole stop began. */
export function stopKey(stop: Pick<Stop, 'asset_id' | 'stop_start'>): string {
  return `${stop.asset_id}-${stop.stop_start}`;
}

/**
 * The stop parts that still need a reason: those without one, and those given one a moment ago
 * that can still be taken back (`undoable`, by part id), which stay where they were until then.
 * The ongoing stop first, then the newest first.
 */
export function needingReason(stops: readonly Stop[], undoable: ReadonlySet<string> = new Set()): Stop[] {
  return stops
    .filter((s) => s.reason_id === null || undoable.has(s.id))
    .sort((a, b) => Number(b.ongoing) - Number(a.ongoing) || b.start - a.start || a.asset_id - b.asset_id);
}

export interface Category {
  category: string;
  reasons: Reason[];
}

/**
 * The reason tree as buttons are laid out: one group per category, in the order the categories
 * first come (the API sorts by category, then name), each with its reasons in the order given.
 */
export function byCategory(reasons: readonly Reason[]): Category[] {
  const groups = new Map<string, Reason[]>();
  for (const r of reasons) {
    const list = groups.get(r.category);
    if (list) list.push(r);
    else groups.set(r.category, [r]);
  }
  return [...groups].map(([category, list]) => ({ category, reasons: list }));
}

/**
 * The long stops to prompt for at `now`: ongoing, without a reason, at or past their machine's
 * threshold, and not prompted for before (`prompted` holds {@link stopKey}s), so each stop
 * prompts once however often the page re-reads.
 */
export function longStopsToPrompt(
  stops: readonly Stop[],
  thresholdOf: (assetId: number) => number,
  now: number,
  prompted: ReadonlySet<string>,
): Stop[] {
  return stops.filter((s) => s.ongoing && s.reason_id === null && !prompted.has(stopKey(s)) && isLong(s, thresholdOf(s.asset_id), now));
}

/** Whether a machine's card is highlighted: its ongoing stop is long and still has no reason. */
export function wantsReason(stops: readonly Stop[], thresholdOf: (assetId: number) => number, now: number): boolean {
  return stops.some((s) => s.ongoing && s.reason_id === null && isLong(s, thresholdOf(s.asset_id), now));
}

/** "45 s", "5 min", "2 h 05 min": how long ago, in the words of the prompt. */
export function agoWords(ms: number): string {
  const t = Math.max(0, Math.floor(ms));
  if (t < MINUTE) return `${Math.floor(t / SECOND)} s`;
  if (t < HOUR) return `${Math.floor(t / MINUTE)} min`;
  return `${Math.floor(t / HOUR)} h ${String(Math.floor((t % HOUR) / MINUTE)).padStart(2, '0')} min`;
}

/** What the live region says for a long stop: "Press 2 stopped 5 min ago: why?". */
export function promptText(machine: string, stopStart: number, now: number): string {
  return `${machine} stopped ${agoWords(now - stopStart)} ago: why?`;
}

/** A stop's time on the station: "09:00" today, "Mon 24 Nov 22:40" on another local day. */
export function stationTime(ms: number, now: number, zone: string, locale?: string): string {
  const time = formatTime(ms, zone, locale, false);
  return localDate(ms, zone) === localDate(now, zone) ? time : `${formatDay(ms, zone, locale)} ${time}`;
}

/** The page's first line: what needs doing, and how the machines are. */
export function summaryText(needing: number, states: readonly AssetState[]): string {
  const running = states.filter((s) => s === 'RUNNING').length;
  const machines = `Machines running: ${running} of ${states.length}.`;
  if (needing === 0) return `No stop needs a reason. ${machines}`;
  return `${needing} ${needing === 1 ? 'stop needs' : 'stops need'} a reason. ${machines}`;
}

/** A reason this page gave, for its undo and the "recently given" line. */
export interface Given {
  /** The stop part's id. */
  id: string;
  asset_id: number;
  start: number;
  reason_id: number;
  /** What the part had before: Undo puts it back. */
  previous: number | null;
  comment: string;
  /** When the server took it. */
  at: number;
}

/** The reasons given that can still be undone at `now`, and those whose window has passed (newest first). */
export function splitGiven(given: readonly Given[], now: number, undoMs = UNDO_MS): { undoable: Given[]; done: Given[] } {
  const undoable: Given[] = [];
  const done: Given[] = [];
  for (const g of given) (now - g.at < undoMs ? undoable : done).push(g);
  const newest = (a: Given, b: Given) => b.at - a.at;
  return { undoable: undoable.sort(newest), done: done.sort(newest) };
}

/**
 * Whole seconds left to undo, for the button: never 0 while it is still there, and never more
 * than the window (the page's clock ticks once a second, so it may lag the moment of the tap).
 */
export function undoSecondsLeft(g: Pick<Given, 'at'>, now: number, undoMs = UNDO_MS): number {
  return Math.min(Math.ceil(undoMs / SECOND), Math.max(1, Math.ceil((g.at + undoMs - now) / SECOND)));
}

/** The stops with the reasons given (or taken back) applied, as the server now has them. */
export function withReason(stops: readonly Stop[], id: string, reason_id: number | null): Stop[] {
  return stops.map((s) => (s.id === id ? { ...s, reason_id } : s));
}
