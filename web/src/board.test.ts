import { describe, expect, it } from 'vitest';
import type { Asset, Logger } from './api';
import { BoardModel, compactDuration, isLongStop, longestFirst, sections, shownState, tvColumns } from './board';

function asset(id: number, state: Asset['state'], since: number | null, pin = id): Asset {
  return { id, name: `Press ${id}`, logger_id: 'lg-1', pin_number: pin, short_stop_threshold_s: null, line: null, area: null, target_availability: null, state, since };
}

function logger(online: boolean, assets: Asset[], id = 1, logger_id = 'lg-1'): Logger {
  return {
    id,
    logger_id,
    name: `Line ${id}`,
    status: 'claimed',
    online,
    last_seen: 1000,
    firmware_version: null,
    ip_address: null,
    rssi: null,
    free_heap: null,
    uptime_s: null,
    queued_events: null,
    allow_keyless: false,
    acked_seq: 0,
    assets,
  };
}

const change = (asset_id: number, state: 'RUNNING' | 'STOPPED', ts: number) => ({
  type: 'asset_state_change' as const,
  asset_id,
  asset_name: 'x',
  logger_id: 'lg-1',
  pin_number: asset_id,
  state,
  timestamp: new Date(ts).toISOString(),
  duration_ms: null,
});

describe('BoardModel', () => {
  it('moves a tile on a live change without touching the group list', () => {
    const board = new BoardModel();
    board.load([logger(true, [asset(7, 'RUNNING', 1000), asset(8, 'RUNNING', 1000)])]);
    const groups = board.groups.value;
    expect(board.apply(change(7, 'STOPPED', 5000))).toBe(false);
    expect(board.tile(7)!.state.value).toBe('STOPPED');
    expect(board.tile(7)!.since.value).toBe(5000);
    expect(board.tile(8)!.state.value).toBe('RUNNING');
    expect(board.groups.value).toBe(groups);
  });

  it('ignores a message older than the snapshot it already knows', () => {
    const board = new BoardModel();
    board.load([logger(true, [asset(7, 'STOPPED', 9000)])]);
    board.apply(change(7, 'RUNNING', 8000));
    expect(board.tile(7)!.state.value).toBe('STOPPED');
  });

  it('asks for a re-read when an unknown asset or logger speaks', () => {
    const board = new BoardModel();
    board.load([logger(true, [asset(7, 'RUNNING', 1000)])]);
    expect(board.apply(change(99, 'RUNNING', 2000))).toBe(true);
    expect(
      board.apply({ type: 'logger_status', logger_id: 'someone-else', online: true, last_seen: '2025-01-01T00:00:00Z' }),
    ).toBe(true);
  });

  it('leaves the board alone on an alert message (the alert book takes those)', () => {
    const board = new BoardModel();
    board.load([logger(true, [asset(7, 'RUNNING', 1000)])]);
    const groups = board.groups.value;
    const alert = {
      id: 1,
      rule_id: 1,
      rule_name: 'Logger offline',
      kind: 'logger_offline' as const,
      asset_id: null,
      logger_id: 'lg-1',
      since: 1000,
      opened_at: 2000,
      acknowledged_at: null,
      acknowledged_by: null,
      ack_comment: null,
      cleared_at: null,
      escalated_at: null,
      state: 'active' as const,
      detail: { text: 'Line 1 is offline' },
    };
    expect(board.apply({ type: 'alert', event: 'opened', alert })).toBe(false);
    expect(board.groups.value).toBe(groups);
    expect(board.groups.value[0]!.online.value).toBe(true);
  });

  it('shows an offline logger as unknown and remembers the state for its return', () => {
    const board = new BoardModel();
    board.load([logger(true, [asset(7, 'RUNNING', 1000)])]);
    const group = board.groups.value[0]!;
    const tile = board.tile(7)!;
    expect(
      board.apply({ type: 'logger_status', logger_id: 'lg-1', online: false, last_seen: '2025-01-01T00:00:00Z' }),
    ).toBe(false);
    expect(shownState(tile, group)).toBe('UNKNOWN');
    expect(group.lastSeen.value).toBe(Date.parse('2025-01-01T00:00:00Z'));
    // A re-read while offline says UNKNOWN; the tile keeps RUNNING underneath.
    board.load([logger(false, [asset(7, 'UNKNOWN', 1500)])]);
    expect(tile.state.value).toBe('RUNNING');
    // Back online: re-read.
    expect(
      board.apply({ type: 'logger_status', logger_id: 'lg-1', online: true, last_seen: '2025-01-01T00:01:00Z' }),
    ).toBe(true);
    expect(shownState(tile, group)).toBe('RUNNING');
  });

  it('keeps tile objects across re-reads and rebuilds groups when assets change', () => {
    const board = new BoardModel();
    board.load([logger(true, [asset(7, 'RUNNING', 1000)])]);
    const tile = board.tile(7)!;
    const groups = board.groups.value;
    board.load([logger(true, [asset(7, 'STOPPED', 2000)])]);
    expect(board.tile(7)).toBe(tile);
    expect(tile.state.value).toBe('STOPPED');
    expect(board.groups.value).toBe(groups);
    board.load([logger(true, [asset(7, 'STOPPED', 2000), asset(8, 'RUNNING', 2500)])]);
    expect(board.groups.value).not.toBe(groups);
    expect(board.groups.value[0]!.tiles.map((t) => t.id)).toEqual([7, 8]);
    expect(board.tile(7)).toBe(tile);
    expect(board.assetCount).toBe(2);
  });
});

describe('board sections', () => {
  const model = () => {
    const m = new BoardModel();
    const a = (id: number, state: Asset['state'], since: number, line: string | null) => ({ ...asset(id, state, since), line, area: line ? 'Hall A' : null });
    m.load([
      logger(true, [a(1, 'RUNNING', 100, 'Line 2'), a(2, 'STOPPED', 500, 'Line 1')], 1, 'lg-1'),
      logger(true, [a(3, 'STOPPED', 200, 'Line 2'), a(4, 'RUNNING', 50, null)], 2, 'lg-2'),
    ]);
    return m;
  };

  it('groups by logger as wired, or by line with the machines without one last', () => {
    const m = model();
    const byLogger = sections(m.groups.value, 'logger', 'wired');
    expect(byLogger.map((s) => [s.title, s.items.map((p) => p.tile.id)])).toEqual([
      ['Line 1', [1, 2]],
      ['Line 2', [3, 4]],
    ]);
    const byLine = sections(m.groups.value, 'line', 'wired');
    expect(byLine.map((s) => [s.title, s.items.map((p) => p.tile.id)])).toEqual([
      ['Line 2', [1, 3]],
      ['Line 1', [2]],
      ['No line', [4]],
    ]);
    expect(sections(m.groups.value, 'area', 'wired').map((s) => s.title)).toEqual(['Hall A', 'No area']);
  });

  it('puts the longest stopped first, then no signal, then running', () => {
    const m = model();
    const order = sections(m.groups.value, 'line', 'longest').map((s) => s.items.map((p) => p.tile.id));
    expect(order).toEqual([[3, 1], [2], [4]]);
    const all = longestFirst(m.groups.value.flatMap((g) => g.tiles.map((tile) => ({ tile, group: g }))));
    expect(all.map((p) => p.tile.id)).toEqual([3, 2, 4, 1]);
  });

  it("marks a stop long from the threshold on, the asset's own first", () => {
    const m = model();
    const g = m.groups.value[0]!;
    const stopped = g.tiles[1]!;
    expect(isLongStop(stopped, g, 300, 500 + 299_999)).toBe(false);
    expect(isLongStop(stopped, g, 300, 500 + 300_000)).toBe(true);
    expect(isLongStop(g.tiles[0]!, g, 300, 10_000_000)).toBe(false);
    g.online.value = false;
    expect(isLongStop(stopped, g, 300, 10_000_000)).toBe(false);
  });

  it('fills a TV with 12 to 48 tiles in as few rows as keep them big', () => {
    expect(tvColumns(12, 1920, 1080)).toBe(4);
    expect(tvColumns(24, 1920, 1080)).toBe(6);
    expect(tvColumns(48, 1920, 1080)).toBe(8);
    expect(tvColumns(1, 1920, 1080)).toBe(1);
    expect(tvColumns(0, 1920, 1080)).toBe(1);
  });
});

describe('compactDuration', () => {
  it('says a time in state in few characters', () => {
    expect(compactDuration(45_000)).toBe('45 s');
    expect(compactDuration(42 * 60_000 + 59_000)).toBe('42 min');
    expect(compactDuration(90 * 60_000)).toBe('1 h 30');
    expect(compactDuration((2 * 24 + 4) * 3_600_000 + 1)).toBe('2 d 04 h');
  });
});
