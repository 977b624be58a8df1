import { describe, expect, it } from 'vitest';
import { MIN, T, stop } from './stop-fixture';
import type { Stop } from './api';
import {
  NEWEST_FIRST,
  allShownBox,
  csvFields,
  csvRecords,
  longStopsCsv,
  pickedStops,
  reasonOutcome,
  settleEach,
  shownDuration,
  sortStops,
  sortWords,
  stopCount,
  stopLabel,
  stopsCsvName,
  withPicks,
} from './stops';
import { localDaySpan, periodSpan } from './time';



// As the API lists them: newest first, then by machine.
const LIST = [stop(2, 300, 1.5), stop(3, 180, 45), stop(1, 120, 3), stop(2, 60, 60), stop(4, 60, 20), stop(1, 0, 20)];
const starts = (list: Stop[]) => list.map((s) => `${s.asset_id}@${(s.start - T) / MIN}`);

describe('sortStops', () => {
  it('keeps the API order newest first', () => {
    expect(sortStops(LIST, NEWEST_FIRST, 0)).toEqual(LIST);
  });

  it('sorts oldest first, stops that began together by machine', () => {
    expect(starts(sortStops(LIST, { key: 'start', dir: 1 }, 0))).toEqual(['1@0', '2@60', '4@60', '1@120', '3@180', '2@300']);
  });

  it('sorts by duration both ways; equal durations newest first', () => {
    expect(starts(sortStops(LIST, { key: 'duration', dir: -1 }, 0))).toEqual(['2@60', '3@180', '4@60', '1@0', '1@120', '2@300']);
    expect(starts(sortStops(LIST, { key: 'duration', dir: 1 }, 0))).toEqual(['2@300', '1@120', '4@60', '1@0', '3@180', '2@60']);
  });

  it('sorts an ongoing stop by how long it has lasted now', () => {
    const ongoing = stop(5, 400, 1, { ongoing: true });
    const at = (min: number) => T + (400 + min) * MIN;
    expect(sortStops([...LIST, ongoing], { key: 'duration', dir: -1 }, at(2))[0]!.asset_id).toBe(2);
    expect(sortStops([...LIST, ongoing], { key: 'duration', dir: -1 }, at(90))[0]).toBe(ongoing);
  });

  it('leaves the list it was given as it was', () => {
    const copy = [...LIST];
    sortStops(LIST, { key: 'duration', dir: 1 }, 0);
    expect(LIST).toEqual(copy);
  });
});

describe('shownDuration', () => {
  it('is the part’s duration once it ended, and grows while it goes on', () => {
    expect(shownDuration(stop(1, 0, 20), T + 999 * MIN)).toBe(20 * MIN);
    const ongoing = stop(1, 0, 20, { ongoing: true });
    expect(shownDuration(ongoing, T + 30 * MIN)).toBe(30 * MIN);
    // A clock behind the server's never shrinks it.
    expect(shownDuration(ongoing, T + 10 * MIN)).toBe(20 * MIN);
  });
});

describe('sortWords', () => {
  it.each([
    [{ key: 'start', dir: -1 } as const, 'newest first'],
    [{ key: 'start', dir: 1 } as const, 'oldest first'],
    [{ key: 'duration', dir: -1 } as const, 'longest first'],
    [{ key: 'duration', dir: 1 } as const, 'shortest first'],
  ])('%o reads %s', (sort, words) => {
    expect(sortWords(sort)).toBe(words);
  });
});

describe('picking stops', () => {
  const shown = LIST.slice(0, 3);
  const ids = shown.map((s) => s.id);

  it('counts only the picks that are shown, in the order shown', () => {
    const picks = new Set([ids[2]!, ids[0]!, 'gone-since-the-last-read']);
    expect(pickedStops(shown, picks)).toEqual([shown[0], shown[2]]);
  });

  it('adds and takes away picks without changing the set it was given', () => {
    const before = new Set([ids[0]!]);
    const after = withPicks(before, [ids[1]!, ids[2]!], true);
    expect([...after].sort()).toEqual([...ids].sort());
    expect([...before]).toEqual([ids[0]]);
    expect([...withPicks(after, [ids[0]!, ids[1]!], false)]).toEqual([ids[2]]);
  });

  it('ticks "select all shown" when all are picked, half when some are', () => {
    expect(allShownBox(shown, new Set())).toEqual({ checked: false, indeterminate: false });
    expect(allShownBox(shown, new Set([ids[1]!]))).toEqual({ checked: false, indeterminate: true });
    expect(allShownBox(shown, new Set(ids))).toEqual({ checked: true, indeterminate: false });
    // Picks of stops another filter hides do not tick it.
    expect(allShownBox(shown, new Set([LIST[5]!.id]))).toEqual({ checked: false, indeterminate: false });
    expect(allShownBox([], new Set())).toEqual({ checked: false, indeterminate: false });
  });
});

describe('stopLabel and stopCount', () => {
  it('names a stop by its machine and its start in the tenant’s zone, 24-hour', () => {
    const label = stopLabel('Press 1', Date.parse('2025-11-24T16:30:00Z'), 'Europe/Berlin');
    // The date reads as the browser's language writes it; the time is Berlin's, on a 24-hour clock.
    expect(label).toMatch(/^Press 1, .*2025, 17:30$/);
  });

  it.each([
    [1, '1 stop'],
    [2, '2 stops'],
    [0, '0 stops'],
  ])('%d reads %s', (n, words) => {
    expect(stopCount(n)).toBe(words);
  });
});

describe('settleEach', () => {
  it('keeps each outcome in the place of its item, failures too', async () => {
    const out = await settleEach([1, 2, 3, 4, 5], 2, async (n) => {
      if (n % 2 === 0) throw new Error(`no ${n}`);
      return n * 10;
    });
    expect(out.map((o) => (o.ok ? o.value : (o.error as Error).message))).toEqual([10, 'no 2', 30, 'no 4', 50]);
  });

  it('runs at most `limit` at a time', async () => {
    let running = 0;
    let most = 0;
    await settleEach(Array.from({ length: 9 }, (_, i) => i), 3, async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
    });
    expect(most).toBe(3);
  });

  it('answers nothing for nothing', async () => {
    await expect(settleEach([], 4, async () => 1)).resolves.toEqual([]);
  });
});

describe('reasonOutcome', () => {
  it('says how many stops got the reason', () => {
    expect(reasonOutcome(3, [])).toEqual({ given: 'Reason given to 3 stops.', failed: null });
    expect(reasonOutcome(1, []).given).toBe('Reason given to 1 stop.');
  });

  it('names each stop that did not get it, and why', () => {
    const out = reasonOutcome(2, [{ label: 'Press 1, 24 Nov 2025, 09:00', why: 'stop not found' }]);
    expect(out.given).toBe('Reason given to 2 stops.');
    expect(out.failed).toEqual({
      title: 'The reason could not be given to 1 stop; it stays selected to try again:',
      items: ['Press 1, 24 Nov 2025, 09:00: stop not found'],
    });
    const none = reasonOutcome(0, [
      { label: 'A, 24 Nov 2025, 09:00', why: 'x' },
      { label: 'B, 24 Nov 2025, 10:00', why: 'y' },
    ]);
    expect(none.given).toBeNull();
    expect(none.failed?.title).toBe('The reason could not be given to 2 stops; they stay selected to try again:');
  });
});

// As the server writes it: CRLF lines, RFC 4180 quotes.
const CSV =
  'id,asset_id,start,end,duration_ms,ongoing,short,reason_id,comment\r\n' +
  '1-1-1,1,2025-11-24T09:00:00Z,2025-11-24T09:30:00Z,1800000,false,false,2,"coil late, again"\r\n' +
  '1-2-2,1,2025-11-24T12:00:00Z,2025-11-24T12:04:00Z,240000,false,true,,"said ""jam""\r\nthen left"\r\n' +
  '2-3-3,2,2025-11-24T15:00:00Z,2025-11-24T18:00:00Z,10800000,true,false,,\r\n';

describe('CSV', () => {
  it('splits records, keeping line breaks inside quotes', () => {
    const records = csvRecords(CSV);
    expect(records).toHaveLength(4);
    expect(records[2]).toBe('1-2-2,1,2025-11-24T12:00:00Z,2025-11-24T12:04:00Z,240000,false,true,,"said ""jam""\r\nthen left"');
    expect(csvRecords('a,b\nc,d')).toEqual(['a,b', 'c,d']);
    expect(csvRecords('')).toEqual([]);
  });

  it('reads the fields of a record', () => {
    expect(csvFields('a,"b, c","say ""hi""",')).toEqual(['a', 'b, c', 'say "hi"', '']);
    expect(csvFields(csvRecords(CSV)[2]!)[8]).toBe('said "jam"\r\nthen left');
  });

  it('keeps the header and the long stops only, as the server wrote them', () => {
    const long = longStopsCsv(CSV);
    expect(csvRecords(long).map((r) => csvFields(r)[0])).toEqual(['id', '1-1-1', '2-3-3']);
    expect(long).toContain('"coil late, again"\r\n');
    expect(long.endsWith('\r\n')).toBe(true);
    expect(longStopsCsv('id,short\r\n')).toBe('id,short\r\n');
  });

  it('names the file by the period’s days in the tenant’s zone', () => {
    const day = localDaySpan('2025-11-24', 'Europe/Berlin');
    expect(stopsCsvName(day, 'Europe/Berlin')).toBe('assetlog-stops-2025-11-24.csv');
    const week = periodSpan('custom', 0, 'Europe/Berlin', { from: '2025-11-24', to: '2025-11-30' });
    expect(stopsCsvName(week, 'Europe/Berlin')).toBe('assetlog-stops-2025-11-24-to-2025-11-30.csv');
  });
});
