// Numbers as people read them on the board and in tables.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * A duration with the two units that matter: "45 s", "4 min 05 s", "2 h 07 min", "3 d 04 h".
 * Rounded down, so a ticking clock never runs ahead. Negative durations (clock skew) read as 0 s.
 */
export function formatDuration(ms: number): string {
  const t = Math.max(0, Math.floor(ms));
  if (t < MINUTE) return `${Math.floor(t / SECOND)} s`;
  if (t < HOUR) return `${Math.floor(t / MINUTE)} min ${two(Math.floor((t % MINUTE) / SECOND))} s`;
  if (t < DAY) return `${Math.floor(t / HOUR)} h ${two(Math.floor((t % HOUR) / MINUTE))} min`;
  return `${Math.floor(t / DAY)} d ${two(Math.floor((t % DAY) / HOUR))} h`;
}

/** Hours and minutes for tables of run and down time: "13 h 59 min", "0 min", "12 min". */
export function formatHours(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const minutes = Math.floor(Math.max(0, ms) / MINUTE);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? `${h} h ${two(m)} min` : `${m} min`;
}

/**
 * A mean time between or to repair: seconds while it is under an hour ("42 s", "4 min 05 s"),
 * then as {@link formatHours}; "—" when there is none. A repair that takes 40 s must not read
 * "0 min".
 */
export function formatMeanTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < HOUR ? formatDuration(ms) : formatHours(ms);
}

/** A ratio as a percentage with one decimal ("91.2 %"); "—" when there is none. */
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${(ratio * 100).toFixed(digits)} %`;
}

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for no time. */
export function formatAgo(then: number | null | undefined, now: number): string {
  if (then === null || then === undefined) return 'never';
  const d = Math.max(0, now - then);
  if (d < 5 * SECOND) return 'just now';
  if (d < MINUTE) return `${Math.floor(d / SECOND)} s ago`;
  if (d < HOUR) return `${Math.floor(d / MINUTE)} min ago`;
  if (d < DAY) return `${Math.floor(d / HOUR)} h ago`;
  return `${Math.floor(d / DAY)} d ago`;
}

/** Wi-Fi signal in words, for people who do not think in dBm. */
export function describeRssi(rssi: number | null | undefined): string {
  if (rssi === null || rssi === undefined) return '—';
  const quality = rssi >= -55 ? 'excellent' : rssi >= -67 ? 'good' : rssi >= -75 ? 'fair' : 'weak';
  return `${rssi} dBm (${quality})`;
}

/** Sort helper: nulls last, whatever the direction. */
export function compareNullable(a: number | string | null, b: number | string | null, dir: 1 | -1): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'string' && typeof b === 'string') return a.localeCompare(b) * dir;
  return (a < b ? -1 : 1) * dir;
}

/**
 * The Pareto of downtime: reasons by down time, largest first, each with its share of the down
 * time and the cumulative share up to and including it.
 */
export function paretoRows(
  shares: { name: string; down_ms: number; stops: number }[],
): { name: string; down_ms: number; stops: number; share: number; cumulative: number }[] {
  const rows = shares.filter((s) => s.down_ms > 0).sort((a, b) => b.down_ms - a.down_ms);
  const total = rows.reduce((sum, s) => sum + s.down_ms, 0);
  let running = 0;
  return rows.map((s) => {
    running += s.down_ms;
    return { name: s.name, down_ms: s.down_ms, stops: s.stops, share: s.down_ms / total, cumulative: running / total };
  });
}

/**
 * A target availability as people name it: "85 %", "87.5 %", "92.25 %" (the server keeps it to
 * 0.01 %); "—" when there is none.
 */
export function formatTarget(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${Math.round(ratio * 10_000) / 100} %`;
}
