// The live board's model: loggers with their assets, each asset's state and since as signals, so
// a live message re-renders one tile and not the board. Loaded from REST, then moved by live
// messages; anything the messages cannot tell (a new asset, a logger back online) asks for a
// re-read.

import { batch, signal, type Signal } from '@preact/signals';
import type { AssetState, Logger } from './api';
import type { LiveMessage } from './live';

export interface Tile {
  id: number;
  name: string;
  pin: number;
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
                  return tile && tile.name === a.name
                    ? tile
                    : { id: a.id, name: a.name, pin: a.pin_number, state: signal(a.state), since: signal(a.since) };
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

function sameAssets(group: Group, logger: Logger): boolean {
  return (
    group.tiles.length === logger.assets.length &&
    group.tiles.every((t, i) => t.id === logger.assets[i]!.id && t.name === logger.assets[i]!.name)
  );
}

function sameGroups(a: Group[], b: Group[]): boolean {
  return a.length === b.length && a.every((g, i) => g === b[i]);
}

/** What a tile shows: UNKNOWN whenever its logger is offline, whatever it last reported. */
export function shownState(tile: Tile, group: Group): AssetState {
  return group.online.value ? tile.state.value : 'UNKNOWN';
}
