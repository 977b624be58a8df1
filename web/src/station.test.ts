import { describe, expect, it } from 'vitest';
import { MIN, T, stop } from './stop-fixture';
import type { Reason, Stop } from './api';
import {
  STATION_WINDOW_MS,
  UNDO_MS,
  type Given,
  agoWords,
  byCategory,
  isLong,
  linesOf,
  longStopsToPrompt,
  machinesOf,
  needingReason,
  promptText,
  splitGiven,
  stationTime,
  stationWindow,
  stopKey,
  summaryText,
  thresholdMs,
  undoSecondsLeft,
  wantsReason,
  withReason,
} from './station';

const S = 1000;


const FIVE_MIN = 5 * MIN;
const threshold = () => FIVE_MIN;

describe('which machines the station shows', () => {
  const assets = [
    { id: 1, line: 'Line 10' },
    { id: 2, line: 'Line 2' },
    { id: 3, line: null },
    { id: 4, line: 'Line 2' },
  ];

  it('offers each line once, counted as people count', () => {
    expect(linesOf(assets)).toEqual(['Line 2', 'Line 10']);
    expect(linesOf([])).toEqual([]);
  });

  it('shows all machines, or those of one line, in the order of the API', () => {
    expect(machinesOf(assets, null).map((a) => a.id)).toEqual([1, 2, 3, 4]);
    expect(machinesOf(assets, 'Line 2').map((a) => a.id)).toEqual([2, 4]);
    // A line that is no longer there (renamed since the tablet was bookmarked): none.
    expect(machinesOf(assets, 'Line 9')).toEqual([]);
  });

  it('asks for the last eight hours, and a little beyond now for a stop that just began', () => {
    const w = stationWindow(T);
    expect(w.from).toBe(T - STATION_WINDOW_MS);
    expect(w.to).toBeGreaterThan(T);
  });
});

describe('which stops need a reason', () => {
  it('lists the parts without a reason: the ongoing stop first, then the newest', () => {
    const given = stop(1, 0, 10, { reason_id: 3 });
    const old = stop(1, 20, 2);
    const newer = stop(2, 40, 7);
    const ongoing = stop(1, 60, 1, { ongoing: true });
    expect(needingReason([newer, given, ongoing, old]).map((s) => s.id)).toEqual([ongoing.id, newer.id, old.id]);
  });

  it('keeps a stop given a reason a moment ago in its place while it can be undone', () => {
    const a = stop(1, 0, 10, { reason_id: 3 });
    const b = stop(1, 20, 10);
    expect(needingReason([a, b], new Set([a.id])).map((s) => s.id)).toEqual([b.id, a.id]);
    expect(needingReason([a, b], new Set()).map((s) => s.id)).toEqual([b.id]);
  });

  it('names each part of a split stop on its own', () => {
    const first = stop(1, 0, 10);
    const second = { ...stop(1, 5, 5), stop_start: first.stop_start, id: `1-${first.stop_start}-${T + 5 * MIN}` };
    const list = needingReason([second, first]);
    expect(list.map((s) => s.id)).toEqual([second.id, first.id]);
    expect(stopKey(list[0]!)).toBe(stopKey(list[1]!));
  });

  it('sets a reason on one part only', () => {
    const a = stop(1, 0, 10);
    const b = stop(1, 20, 10);
    const after = withReason([a, b], a.id, 4);
    expect(after.map((s) => s.reason_id)).toEqual([4, null]);
    expect(withReason(after, a.id, null).map((s) => s.reason_id)).toEqual([null, null]);
    // The original list is left as it was.
    expect(a.reason_id).toBeNull();
  });
});

describe('the reason buttons', () => {
  const r = (id: number, category: string, name: string): Reason => ({ id, category, name });

  it('groups reasons by category, in the order they come', () => {
    const reasons = [r(1, 'Material', 'Jam'), r(2, 'Material', 'Waiting for material'), r(3, 'Tooling', 'Tool change'), r(4, 'Tooling', 'Worn tool')];
    expect(byCategory(reasons)).toEqual([
      { category: 'Material', reasons: [reasons[0], reasons[1]] },
      { category: 'Tooling', reasons: [reasons[2], reasons[3]] },
    ]);
  });

  it('keeps a category together even when its reasons do not come together', () => {
    const groups = byCategory([r(1, 'b', 'x'), r(2, 'a', 'y'), r(3, 'b', 'z')]);
    expect(groups.map((g) => [g.category, g.reasons.map((x) => x.id)])).toEqual([
      ['b', [1, 3]],
      ['a', [2]],
    ]);
  });

  it('has no groups without reasons, and keeps categories that differ only in case apart', () => {
    expect(byCategory([])).toEqual([]);
    expect(byCategory([r(1, 'Material', 'Jam'), r(2, 'material', 'Jam')]).length).toBe(2);
  });
});

describe('the long-stop prompt', () => {
  it('uses the machine’s own threshold, else the tenant’s', () => {
    expect(thresholdMs({ short_stop_threshold_s: 120 }, 300)).toBe(120 * S);
    expect(thresholdMs({ short_stop_threshold_s: null }, 300)).toBe(300 * S);
    expect(thresholdMs(undefined, 300)).toBe(300 * S);
  });

  it('calls a stop long when the server did, or when it has grown to the threshold since', () => {
    const read = stop(1, 0, 1, { ongoing: true, short: true });
    expect(isLong(read, FIVE_MIN, T + 4 * MIN)).toBe(false);
    expect(isLong(read, FIVE_MIN, T + 5 * MIN)).toBe(true);
    // A stop that ended short stays short, however late it is now.
    expect(isLong(stop(1, 0, 2), FIVE_MIN, T + 60 * MIN)).toBe(false);
    expect(isLong(stop(1, 0, 7), FIVE_MIN, T + 7 * MIN)).toBe(true);
    // The whole stop counts, not the last part of it.
    const part = { ...stop(1, 4, 0.5, { ongoing: true, short: true }), stop_start: T };
    expect(isLong(part, FIVE_MIN, T + 5 * MIN)).toBe(true);
  });

  it('prompts for an ongoing stop once it reaches the threshold, not before', () => {
    const ongoing = stop(2, 0, 0.5, { ongoing: true, short: true });
    expect(longStopsToPrompt([ongoing], threshold, T + 4 * MIN + 59 * S, new Set())).toEqual([]);
    expect(longStopsToPrompt([ongoing], threshold, T + 5 * MIN, new Set())).toEqual([ongoing]);
  });

  it('prompts once per stop, also when the page reads it again or the stop was split', () => {
    const ongoing = stop(2, 0, 6, { ongoing: true, short: false });
    const prompted = new Set([stopKey(ongoing)]);
    expect(longStopsToPrompt([ongoing], threshold, T + 6 * MIN, prompted)).toEqual([]);
    const reread = { ...ongoing, duration_ms: 7 * MIN, stop_duration_ms: 7 * MIN };
    expect(longStopsToPrompt([reread], threshold, T + 7 * MIN, prompted)).toEqual([]);
    const lastPart = { ...reread, id: `2-${T}-${T + 6 * MIN}`, start: T + 6 * MIN };
    expect(longStopsToPrompt([lastPart], threshold, T + 7 * MIN, prompted)).toEqual([]);
    // Another stop of the same machine prompts again.
    const next = stop(2, 30, 6, { ongoing: true, short: false });
    expect(longStopsToPrompt([next], threshold, T + 36 * MIN, prompted)).toEqual([next]);
  });

  it('does not prompt for a stop that has its reason, that is over, or that is still short', () => {
    const now = T + 10 * MIN;
    expect(longStopsToPrompt([stop(1, 0, 10, { ongoing: true, short: false, reason_id: 2 })], threshold, now, new Set())).toEqual([]);
    expect(longStopsToPrompt([stop(1, 0, 8)], threshold, now, new Set())).toEqual([]);
    expect(longStopsToPrompt([stop(1, 9, 0.5, { ongoing: true })], threshold, now, new Set())).toEqual([]);
  });

  it('follows each machine’s own threshold', () => {
    const a = stop(1, 0, 0.5, { ongoing: true, short: true });
    const b = stop(2, 0, 0.5, { ongoing: true, short: true });
    const own = (id: number) => (id === 2 ? 30 * S : FIVE_MIN);
    expect(longStopsToPrompt([a, b], own, T + MIN, new Set())).toEqual([b]);
  });

  it('highlights the card while the long stop has no reason', () => {
    const ongoing = stop(1, 0, 6, { ongoing: true, short: false });
    expect(wantsReason([ongoing], threshold, T + 6 * MIN)).toBe(true);
    expect(wantsReason([{ ...ongoing, reason_id: 1 }], threshold, T + 6 * MIN)).toBe(false);
    expect(wantsReason([stop(1, 0, 6)], threshold, T + 6 * MIN)).toBe(false);
    expect(wantsReason([], threshold, T)).toBe(false);
  });

  it('says who stopped and how long ago, in words', () => {
    expect(promptText('Press 2', T, T + 5 * MIN + 20 * S)).toBe('Press 2 stopped 5 min ago: why?');
    expect(promptText('Press 2', T, T + 40 * S)).toBe('Press 2 stopped 40 s ago: why?');
    expect(agoWords(2 * 60 * MIN + 5 * MIN)).toBe('2 h 05 min');
    expect(agoWords(-3)).toBe('0 s');
  });
});

describe('the undo window', () => {
  const given = (id: string, at: number): Given => ({ id, asset_id: 1, start: T, reason_id: 1, previous: null, comment: '', at });

  it('keeps a reason undoable for about eight seconds, then counts it as given', () => {
    const a = given('a', T);
    const b = given('b', T + 5 * S);
    expect(splitGiven([a, b], T + 6 * S)).toEqual({ undoable: [b, a], done: [] });
    expect(splitGiven([a, b], T + UNDO_MS)).toEqual({ undoable: [b], done: [a] });
    expect(splitGiven([a, b], T + 20 * S)).toEqual({ undoable: [], done: [b, a] });
  });

  it('counts the seconds left from 8 down to 1, never 0', () => {
    expect(undoSecondsLeft({ at: T }, T)).toBe(8);
    expect(undoSecondsLeft({ at: T }, T + 7_500)).toBe(1);
    expect(undoSecondsLeft({ at: T }, T + 9_000)).toBe(1);
    // A clock read a moment before the tap.
    expect(undoSecondsLeft({ at: T }, T - 900)).toBe(8);
  });
});

describe('words on the page', () => {
  it('says what needs doing and how many machines run', () => {
    expect(summaryText(0, ['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING'])).toBe('No stop needs a reason. Machines running: 4 of 4.');
    expect(summaryText(1, ['RUNNING', 'STOPPED'])).toBe('1 stop needs a reason. Machines running: 1 of 2.');
    expect(summaryText(3, ['UNKNOWN'])).toBe('3 stops need a reason. Machines running: 0 of 1.');
  });

  it('names a stop by its 24-hour time today, with the day before midnight', () => {
    // Berlin: 08:00 UTC is 09:00; the evening before is another local day.
    expect(stationTime(T, T + 60 * MIN, 'Europe/Berlin')).toBe('09:00');
    expect(stationTime(T - 10 * 60 * MIN, T, 'Europe/Berlin')).toMatch(/23:00$/);
    expect(stationTime(T - 10 * 60 * MIN, T, 'Europe/Berlin')).not.toBe('23:00');
  });
});
