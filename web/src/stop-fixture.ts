// A stop part as the API lists it, for the unit tests of what reads stops (stops.ts, station.ts).

import type { Stop } from './api';

export const MIN = 60_000;
/** The fixtures' day: 2025-11-24, 08:00 UTC. */
export const T = Date.parse('2025-11-24T08:00:00Z');

/** A whole stop of `asset_id`, `startMin` minutes after [`T`], `minutes` long. */
export function stop(asset_id: number, startMin: number, minutes: number, more: Partial<Stop> = {}): Stop {
  const start = T + startMin * MIN;
  return {
    id: `${asset_id}-${start}-${start}`,
    asset_id,
    stop_start: start,
    start,
    end: start + minutes * MIN,
    duration_ms: minutes * MIN,
    stop_duration_ms: minutes * MIN,
    ongoing: false,
    short: minutes < 5,
    reason_id: null,
    comment: '',
    ...more,
  };
}
