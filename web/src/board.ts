// The live board's model: loggers with their assets, each asset's state and since as signals, so
// a live message re-renders one tile and not the board. Loaded from REST, then moved by live
// messages; anything the messages cannot tell (a new asset, a logger back online) asks for a
// re-read.

import { batch, signal, type Signal } from '@preact/signals';
import type { Asset, AssetState, Logger } from './api';
import type { LiveMessage } from './live';

export interface Tile {
  id: number;
  name: string;
  pin: number;
  line: string | null;
  area: string | null;
  /** The asset's own short-stop threshold, seconds (null: the tenant's). */
  thresholdS: number | null;
  /** The state the server last told us (REST or live). */
  state: Signal<AssetState>;
  since: Signal<number | null>;
}

export interface Group {
  id: number;
  loggerId: string;
  name: string;
  online: Signal<boolean>;
  lastSeen: Signal<number | null>;
  tiles: Tile[];
}

export class BoardModel {
  readonly groups = signal<Group[]>([]);
  readonly loaded = signal(false);
  private tiles = new Map<number, Tile>();
  private byLogger = new Map<string, Group>();

  /** Replaces the board with a fresh REST snapshot, keeping tile objects where ids match. */
  load(loggers: Logger[]): void {
    batch(() => {
      const tiles = new Map<number, Tile>();
      const byLogger = new Map<string, Group>();
      const groups = loggers.map((logger) => {
        const old = this.byLogger.get(logger.logger_id);
        const group: Group =
          old && old.id === logger.id && old.name === logger.name && sameAssets(old, logger)
            ? old
            : {
                id: logger.id,
                loggerId: logger.logger_id,
                name: logger.name,
                online: old?.online ?? signal(logger.online),
                lastSeen: old?.lastSeen ?? signal(logger.last_seen),
                tiles: logger.assets.map((a) => {
                  const tile = this.tiles.get(a.id);
                  return tile && sameTile(tile, a)
                    ? tile
                    : {
                        id: a.id,
                        name: a.name,
                        pin: a.pin_number,
                        line: a.line ?? null,
                        area: a.area ?? null,
                        thresholdS: a.short_stop_threshold_s,
                        state: signal(a.state),
                        since: signal(a.since),
                      };
                }),
              };
        group.online.value = logger.online;
        group.lastSeen.value = logger.last_seen;
        for (const a of logger.assets) {
          const tile = group.tiles.find((t) => t.id === a.id)!;
          // REST reads UNKNOWN for an offline logger's assets; the tile shows that through the
          // group's `online`, and keeps what it knew for when the logger returns.
          if (a.state !== 'UNKNOWN' || logger.online) {
            tile.state.value = a.state;
            tile.since.value = a.since;
          }
          tiles.set(a.id, tile);
        }
        byLogger.set(logger.logger_id, group);
        return group;
      });
      this.tiles = tiles;
      this.byLogger = byLogger;
      if (!sameGroups(this.groups.peek(), groups)) this.groups.value = groups;
      this.loaded.value = true;
    });
  }

  /** Applies a live message; returns true when the board should be re-read from REST. */
  apply(message: LiveMessage): boolean {
    if (message.type === 'asset_state_change') {
      const tile = this.tiles.get(message.asset_id);
      if (!tile) return true; // an asset we have never seen: its logger was just claimed or grew a pin
      const ts = Date.parse(message.timestamp);
      const since = tile.since.peek();
      // A message older than what REST told us was already counted in that snapshot.
      if (since !== null && ts < since && tile.state.peek() !== 'UNKNOWN') return false;
      batch(() => {
        tile.state.value = message.state;
        tile.since.value = ts;
      });
      return false;
    }
    if (message.type !== 'logger_status') return false;
    const group = this.byLogger.get(message.logger_id);
    if (!group) return true;
    const wasOnline = group.online.peek();
    batch(() => {
      group.online.value = message.online;
      group.lastSeen.value = Date.parse(message.last_seen);
    });
    // Back online: its assets may have changed while it was away without a live message.
    return message.online && !wasOnline;
  }

  tile(id: number): Tile | undefined {
    return this.tiles.get(id);
  }

  get assetCount(): number {
    return this.tiles.size;
  }
}

function sameTile(t: Tile, a: Asset): boolean {
  return t.id === a.id && t.name === a.name && t.line === (a.line ?? null) && t.area === (a.area ?? null) && t.thresholdS === a.short_stop_threshold_s;
}

function sameAssets(group: Group, logger: Logger): boolean {
  return group.tiles.length === logger.assets.length && group.tiles.every((t, i) => sameTile(t, logger.assets[i]!));
}

function sameGroups(a: Group[], b: Group[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i]);
}

/** What a tile shows: UNKNOWN whenever its logger is offline, whatever it last reported. */
export function shownState(tile: Tile, group: Group): AssetState {
  return group.online.value ? tile.state.value : 'UNKNOWN';
}

/** How the board groups its tiles: by logger (the wiring), or by the plant's line or area. */
export type Grouping = 'logger' | 'line' | 'area';
/** As wired, or the machines stopped longest first (then those without a signal, then running). */
export type Order = 'wired' | 'longest';

export interface Placed {
  tile: Tile;
  group: Group;
}

export interface Section {
  key: string;
  title: string;
  /** The logger, when grouped by logger (its online badge). */
  logger?: Group;
  items: Placed[];
}

/**
 * The board's sections: one per logger, line or area (in the order met; tiles without a line or
 * area last, under "No line" / "No area"), each ordered as asked. Reads the tiles' signals.
 */
export function sections(groups: Group[], grouping: Grouping, order: Order): Section[] {
  const out: Section[] = [];
  if (grouping === 'logger') {
    for (const g of groups) out.push({ key: `logger-${g.id}`, title: g.name, logger: g, items: g.tiles.map((tile) => ({ tile, group: g })) });
  } else {
    const byName = new Map<string | null, Placed[]>();
    for (const g of groups) {
      for (const tile of g.tiles) {
        const name = grouping === 'line' ? tile.line : tile.area;
        const list = byName.get(name) ?? [];
        list.push({ tile, group: g });
        byName.set(name, list);
      }
    }
    const named = [...byName.keys()].filter((k): k is string => k !== null);
    for (const name of named) out.push({ key: `${grouping}-${name}`, title: name, items: byName.get(name)! });
    const none = byName.get(null);
    if (none) out.push({ key: `${grouping}-none`, title: grouping === 'line' ? 'No line' : 'No area', items: none });
  }
  if (order === 'longest') for (const s of out) s.items = longestFirst(s.items);
  return out;
}

/** Stopped machines first, the longest stopped first; then those without a signal; then running. */
export function longestFirst(items: Placed[]): Placed[] {
  const rank = (p: Placed) => ({ STOPPED: 0, UNKNOWN: 1, RUNNING: 2 })[shownState(p.tile, p.group)];
  const since = (p: Placed) => (p.group.online.value ? p.tile.since.value : p.group.lastSeen.value) ?? Number.MAX_SAFE_INTEGER;
  return [...items].sort((a, b) => rank(a) - rank(b) || since(a) - since(b));
}

/** Whether a tile shows a long stop: stopped (its logger online) at least its threshold. */
export function isLongStop(tile: Tile, group: Group, tenantThresholdS: number, now: number): boolean {
  const since = tile.since.value;
  return shownState(tile, group) === 'STOPPED' && since !== null && now - since >= (tile.thresholdS ?? tenantThresholdS) * 1000;
}

/**
 * Columns of the TV grid for `n` tiles on a `width` × `height` screen: the most columns' worth of
 * the biggest tiles that fit, tiles about 4:3 (a name over its state and time), so 12 to 48
 * machines fill a 1920×1080 screen.
 */
export function tvColumns(n: number, width: number, height: number): number {
  if (n <= 0) return 1;
  let best = 1;
  let bestSize = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = width / cols;
    const h = height / rows;
    // The tile's size is limited by the smaller of its width and 4/3 of its height.
    const size = Math.min(w, (h * 4) / 3);
    if (size > bestSize) {
      bestSize = size;
      best = cols;
    }
  }
  return best;
}

/** A time in state short enough for a TV tile at 48 px: "45 s", "42 min", "1 h 30", "2 d 04 h". */
export function compactDuration(ms: number): string {
  const t = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min`;
  if (t < 86_400) return `${Math.floor(t / 3600)} h ${two(Math.floor((t % 3600) / 60))}`;
  return `${Math.floor(t / 86_400)} d ${two(Math.floor((t % 86_400) / 3600))} h`;
}
