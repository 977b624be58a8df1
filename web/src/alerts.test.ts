import { describe, expect, it } from 'vitest';
import type { Alert } from './api';
import {
  AlertBook,
  countText,
  deliveryText,
  historyFilter,
  mergeNewestFirst,
  orderOpen,
  stateParam,
  subjectOf,
} from './alerts';

function alert(id: number, state: Alert['state'], opened_at: number, more: Partial<Alert> = {}): Alert {
  return {
    id,
    rule_id: 1,
    rule_name: 'Stopped over 10 min',
    kind: 'stop_longer_than',
    asset_id: 7,
    logger_id: null,
    since: opened_at - 600_000,
    opened_at,
    acknowledged_at: state === 'active' ? null : opened_at + 1,
    acknowledged_by: state === 'active' ? null : 'op@plant.example',
    ack_comment: null,
    cleared_at: state === 'cleared' ? opened_at + 2 : null,
    escalated_at: null,
    state,
    detail: { text: 'Press 7 stopped for 10 min' },
    ...more,
  };
}

const ids = (list: Alert[]) => list.map((a) => a.id);

describe('orderOpen', () => {
  it('lists active alerts first, then acknowledged ones, newest first in each, and no cleared one', () => {
    const list = [
      alert(1, 'acknowledged', 100),
      alert(2, 'active', 50),
      alert(3, 'cleared', 500),
      alert(4, 'active', 200),
      alert(5, 'acknowledged', 300),
    ];
    expect(ids(orderOpen(list))).toEqual([4, 2, 5, 1]);
  });

  it('breaks ties of the same moment by id, newest id first', () => {
    expect(ids(orderOpen([alert(1, 'active', 100), alert(2, 'active', 100)]))).toEqual([2, 1]);
  });
});

describe('mergeNewestFirst', () => {
  it('joins lists read per state into one, newest first, each alert once and furthest along', () => {
    const merged = mergeNewestFirst([alert(1, 'active', 100), alert(2, 'active', 300)], [alert(1, 'acknowledged', 100), alert(3, 'acknowledged', 200)]);
    expect(ids(merged)).toEqual([2, 3, 1]);
    expect(merged.find((a) => a.id === 1)!.state).toBe('acknowledged');
  });
});

describe('AlertBook', () => {
  it('counts what a read found, and follows live messages', () => {
    const book = new AlertBook();
    expect(book.count.value).toBe(0);
    book.beginRead();
    book.load([alert(1, 'active', 100), alert(2, 'acknowledged', 50)]);
    expect(book.count.value).toBe(2);

    book.applyMessage({ type: 'alert', event: 'opened', alert: alert(3, 'active', 200) });
    expect(book.count.value).toBe(3);
    book.applyMessage({ type: 'alert', event: 'acknowledged', alert: alert(3, 'acknowledged', 200) });
    expect(book.count.value).toBe(3);
    expect(book.open.value.get(3)!.state).toBe('acknowledged');
    book.applyMessage({ type: 'alert', event: 'cleared', alert: alert(1, 'cleared', 100) });
    expect(book.count.value).toBe(2);
    expect([...book.open.value.keys()].sort()).toEqual([2, 3]);
  });

  it('does not count the same alert twice when it is opened and then escalated', () => {
    const book = new AlertBook();
    book.load([]);
    book.applyMessage({ type: 'alert', event: 'opened', alert: alert(1, 'active', 100) });
    book.applyMessage({ type: 'alert', event: 'escalated', alert: alert(1, 'active', 100, { escalated_at: 900 }) });
    expect(book.count.value).toBe(1);
    expect(book.open.value.get(1)!.escalated_at).toBe(900);
  });

  it('never moves an alert back: a cleared one stays gone, an acknowledged one stays acknowledged', () => {
    const book = new AlertBook();
    book.load([alert(1, 'acknowledged', 100)]);
    book.apply(alert(1, 'active', 100));
    expect(book.open.value.get(1)!.state).toBe('acknowledged');
    book.apply(alert(1, 'cleared', 100));
    book.apply(alert(1, 'acknowledged', 100));
    expect(book.count.value).toBe(0);
  });

  it('keeps what arrived during a read over the read’s older answer', () => {
    const book = new AlertBook();
    book.load([alert(1, 'active', 100)]);
    book.beginRead();
    // Meanwhile on the socket: 1 clears, 2 opens.
    book.applyMessage({ type: 'alert', event: 'cleared', alert: alert(1, 'cleared', 100) });
    book.applyMessage({ type: 'alert', event: 'opened', alert: alert(2, 'active', 300) });
    // The read was answered before either happened.
    book.load([alert(1, 'active', 100)]);
    expect(ids(orderOpen(book.open.value.values()))).toEqual([2]);
  });

  it('drops alerts cleared while the socket was away once a read no longer lists them', () => {
    const book = new AlertBook();
    book.load([alert(1, 'active', 100), alert(2, 'active', 200)]);
    book.beginRead();
    book.load([alert(2, 'acknowledged', 200)]);
    expect(ids(orderOpen(book.open.value.values()))).toEqual([2]);
    expect(book.open.value.get(2)!.state).toBe('acknowledged');
  });

  it('does not change the open alerts (or re-render) for a message that changes nothing', () => {
    const book = new AlertBook();
    book.load([alert(1, 'acknowledged', 100)]);
    const before = book.open.value;
    book.apply(alert(1, 'active', 100));
    book.apply(alert(9, 'cleared', 100));
    expect(book.open.value).toBe(before);
  });

  it('marks machines with an alert of their own, and every machine of an offline logger', () => {
    const book = new AlertBook();
    book.load([
      alert(1, 'active', 100, { asset_id: 7 }),
      alert(2, 'acknowledged', 100, { kind: 'logger_offline', asset_id: null, logger_id: 'esp32-AA' }),
      alert(3, 'active', 100, { kind: 'availability_below', asset_id: null, logger_id: null }),
    ]);
    expect(book.markOf(7, 'esp32-BB')).toBe('active');
    expect(book.markOf(8, 'esp32-AA')).toBe('acknowledged');
    expect(book.markOf(7, 'esp32-AA')).toBe('active');
    expect(book.markOf(8, 'esp32-BB')).toBeNull();
    expect(book.count.value).toBe(3);
    expect(book.activeCount.value).toBe(2);
    book.apply(alert(1, 'cleared', 100, { asset_id: 7 }));
    expect(book.markOf(7, 'esp32-BB')).toBeNull();
    expect(book.markOf(7, 'esp32-AA')).toBe('acknowledged');
  });

  it('marks a machine active while any of its open alerts is', () => {
    const book = new AlertBook();
    book.load([alert(1, 'acknowledged', 100), alert(2, 'active', 200)]);
    expect(book.markOf(7, 'x')).toBe('active');
    book.apply(alert(2, 'acknowledged', 200));
    expect(book.markOf(7, 'x')).toBe('acknowledged');
  });

  it('forgets everything on reset', () => {
    const book = new AlertBook();
    book.load([alert(1, 'active', 100)]);
    book.apply(alert(2, 'cleared', 100));
    book.reset();
    expect(book.count.value).toBe(0);
    expect(book.loaded.value).toBe(false);
    book.load([alert(2, 'active', 100)]);
    expect(book.count.value).toBe(1);
  });
});

describe('words', () => {
  it('counts open alerts', () => {
    expect(countText(1)).toBe('1 open alert');
    expect(countText(3)).toBe('3 open alerts');
  });

  it('names what an alert is about', () => {
    const names = { assets: new Map([[7, 'Press 7']]), loggers: new Map([['esp32-AA', 'Saw line']]) };
    expect(subjectOf({ asset_id: 7, logger_id: 'esp32-AA' }, names)).toBe('Press 7');
    expect(subjectOf({ asset_id: 8, logger_id: null }, names)).toBe('Machine 8');
    expect(subjectOf({ asset_id: null, logger_id: 'esp32-AA' }, names)).toBe('Logger Saw line');
    expect(subjectOf({ asset_id: null, logger_id: 'esp32-ZZ' }, names)).toBe('Logger esp32-ZZ');
    expect(subjectOf({ asset_id: null, logger_id: null }, names)).toBe('All machines');
  });

  it.each([
    [{ ok: true, status: 200, error: null }, 'Delivered (HTTP 200)'],
    [{ ok: true, status: null, error: null }, 'Delivered'],
    [{ ok: false, status: 500, error: 'Internal Server Error' }, 'Failed (HTTP 500): Internal Server Error'],
    [{ ok: false, status: null, error: 'connection refused' }, 'Failed: connection refused'],
  ])('says what %j came to', (d, text) => {
    expect(deliveryText(d)).toBe(text);
  });

  it('reads the history filter from the address, cleared by default', () => {
    expect(historyFilter(null)).toBe('cleared');
    expect(historyFilter('nonsense')).toBe('cleared');
    expect(historyFilter('')).toBe('cleared');
    expect(historyFilter('any')).toBe('');
    expect(historyFilter('active')).toBe('active');
    expect(stateParam('')).toBeUndefined();
    expect(stateParam('cleared')).toBe('cleared');
  });
});
