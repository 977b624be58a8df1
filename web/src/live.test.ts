import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveConnection, backoffDelay, parseMessage } from './live';

describe('backoffDelay', () => {
  it('doubles from half a second and stops at 30 s', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 1))).toEqual([500, 1000, 2000, 4000, 30_000]);
    expect(backoffDelay(1000, 1)).toBe(30_000);
  });

  it('keeps at least half of the delay whatever the jitter', () => {
    expect(backoffDelay(3, 0)).toBe(2000);
    expect(backoffDelay(3, 0.5)).toBe(3000);
  });
});

describe('parseMessage', () => {
  it('reads the two message types of docs/API.md', () => {
    expect(
      parseMessage(
        '{"type":"asset_state_change","asset_id":7,"asset_name":"Press 4","logger_id":"esp32-AABBCC","pin_number":4,"state":"STOPPED","timestamp":"2025-11-24T16:00:04.500Z","duration_ms":4500}',
      ),
    ).toMatchObject({ type: 'asset_state_change', asset_id: 7, state: 'STOPPED' });
    expect(
      parseMessage('{"type":"logger_status","logger_id":"esp32-AABBCC","online":false,"last_seen":"2025-11-24T16:01:30.000Z"}'),
    ).toMatchObject({ type: 'logger_status', online: false });
  });

  it('reads an alert message', () => {
    const m = parseMessage(
      '{"type":"alert","event":"acknowledged","alert":{"id":4,"rule_id":1,"rule_name":"Long stop","kind":"stop_longer_than","asset_id":7,"logger_id":null,"since":1,"opened_at":2,"acknowledged_at":3,"acknowledged_by":"op@plant.example","ack_comment":null,"cleared_at":null,"escalated_at":null,"state":"acknowledged","detail":{"text":"Press 7 stopped"}}}',
    );
    expect(m).toMatchObject({ type: 'alert', event: 'acknowledged', alert: { id: 4, state: 'acknowledged' } });
    expect(parseMessage('{"type":"alert","event":"reopened","alert":{"id":4,"state":"active"}}')).toBeNull();
    expect(parseMessage('{"type":"alert","event":"opened","alert":{"id":4,"state":"open"}}')).toBeNull();
    expect(parseMessage('{"type":"alert","event":"opened"}')).toBeNull();
    expect(parseMessage('{"type":"alert_config_changed"}')).toEqual({ type: 'alert_config_changed' });
  });

  it('ignores what it does not know instead of throwing', () => {
    expect(parseMessage('not json')).toBeNull();
    expect(parseMessage('null')).toBeNull();
    expect(parseMessage('{"type":"hello"}')).toBeNull();
    expect(parseMessage('{"type":"asset_state_change","asset_id":7,"state":"UNKNOWN","timestamp":"x"}')).toBeNull();
  });
});

/** A socket the test opens, feeds and closes by hand. */
class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.();
  }
  drop(code = 1006) {
    this.onclose?.({ code });
  }
  send(data: string) {
    this.onmessage?.({ data });
  }
}

describe('LiveConnection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  function connection() {
    const opened = vi.fn();
    const failed = vi.fn();
    const messages: unknown[] = [];
    const live = new LiveConnection({
      url: () => 'ws://test/api/v1/live?token=t',
      onMessage: (m) => messages.push(m),
      onOpen: opened,
      onSessionDoubt: failed,
      createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
    });
    return { live, opened, failed, messages };
  }

  it('re-reads the state on every (re)connection and backs off between failures', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { live, opened, failed, messages } = connection();
    live.start();
    expect(live.status.value).toBe('connecting');
    FakeSocket.all[0]!.open();
    expect(live.status.value).toBe('open');
    expect(opened).toHaveBeenCalledTimes(1);
    FakeSocket.all[0]!.send('{"type":"logger_status","logger_id":"a","online":true,"last_seen":"2025-01-01T00:00:00Z"}');
    expect(messages).toHaveLength(1);

    FakeSocket.all[0]!.drop();
    expect(live.status.value).toBe('waiting');
    vi.advanceTimersByTime(499);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.drop(); // refused: never opened
    expect(failed).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(999);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3);
    FakeSocket.all[2]!.open();
    expect(opened).toHaveBeenCalledTimes(2);
  });

  it('doubts the session at once when the server closes the socket for its sake', () => {
    const { live, failed } = connection();
    live.start();
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.drop(1013); // too slow: reconnect, the session is fine
    expect(failed).not.toHaveBeenCalled();
    vi.runOnlyPendingTimers();
    FakeSocket.all[1]!.open();
    FakeSocket.all[1]!.drop(1008); // the session ended or changed
    expect(failed).toHaveBeenCalledTimes(1);
    expect(live.status.value).toBe('waiting');
  });

  it('forgives past failures once a connection has stayed up', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { live } = connection();
    live.start();
    for (let i = 0; i < 4; i++) {
      FakeSocket.all.at(-1)!.drop();
      vi.runOnlyPendingTimers();
    }
    FakeSocket.all.at(-1)!.open();
    vi.advanceTimersByTime(5000);
    FakeSocket.all.at(-1)!.drop();
    expect(live.retryAt.value! - Date.now()).toBe(500);
  });

  it('stops for good when told to, and can be hurried while waiting', () => {
    const { live } = connection();
    live.start();
    FakeSocket.all[0]!.drop();
    live.reconnectNow();
    expect(FakeSocket.all).toHaveLength(2);
    live.stop();
    expect(FakeSocket.all[1]!.closed).toBe(true);
    expect(live.status.value).toBe('stopped');
    vi.runAllTimers();
    expect(FakeSocket.all).toHaveLength(2);
  });
});
