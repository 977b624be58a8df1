// The live board: a tile per asset, coloured by state, with time in state ticking, grouped by
// logger, line or area, and shift-aware: the current shift and its time left, and per machine
// this shift's availability, down time and stops, and the ongoing stop's reason. Long stops stand
// out and may be sorted first. Each tile subscribes to its own signals, so one live message
// re-renders one tile. TV mode is the same board, full screen, dark, without navigation, its
// tiles grown to fill the screen; while the live socket is down a banner says so and the tiles
// are greyed. A machine with an open alert carries a mark; the count of open alerts sits in the
// header (and on the TV, which has none). Operators and admins give a stopped machine's ongoing
// stop its reason from its tile (reason-dialog.tsx); the TV and viewers have no such button.

import { signal, useComputed } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { countText } from '../alerts';
import { api, errorText, type AssetState, type CurrentShift, type Reason, type Stop } from '../api';
import { type Group, type Grouping, type Order, type Section, type Tile, compactDuration, isLongStop, sections, shownState, tvColumns } from '../board';
import { formatAgo, formatDuration, formatPercent } from '../format';
import { location, navigate, setQuery } from '../router';
import { ReasonDialog, type ReasonTarget, reasonTitle } from '../reason-dialog';
import { canAnnotate, isAdmin, isDisplay, zone } from '../session';
import { ongoingPart, ongoingWindow } from '../stop-reason';
import { dayStart, formatTime } from '../time';
import { alertBook, board, boardError, live, now, onLive, refreshAlerts, refreshBoard } from '../store';
import { Empty, Loading, useTitle } from '../ui';

const STATE_WORDS: Record<AssetState, string> = { RUNNING: 'Running', STOPPED: 'Stopped', UNKNOWN: 'No signal' };

/** This shift's (or, without one, today's) figures per asset, and the ongoing stops' reasons. */
interface Figures {
  /** "This shift" or "Today". */
  label: string;
  byAsset: Map<number, { availability: number | null; downMs: number; stops: number }>;
  reasons: Map<number, string>;
}
const figures = signal<Figures>({ label: 'Today', byAsset: new Map(), reasons: new Map() });
const shiftNow = signal<CurrentShift | null>(null);
/** The tenant's short-stop threshold: a stop this long is a long stop. */
const thresholdS = signal(300);
/** The reason being given from a tile: the dialog's part, the tile whose stop is being looked up, what went wrong. */
const giving = signal<{ target: ReasonTarget | null; reasons: Reason[]; finding: number | null; note: string | null }>({
  target: null,
  reasons: [],
  finding: null,
  note: null,
});
let figuresTimer: ReturnType<typeof setTimeout> | null = null;
let figuresLast = 0;

async function readFigures(): Promise<void> {
  figuresLast = Date.now();
  try {
    const [current, settings, reasons] = await Promise.all([api.currentShift(), api.settings(), api.reasons()]);
    shiftNow.value = current;
    thresholdS.value = settings.short_stop_threshold_s;
    const shift = current.shift;
    const now = current.now;
    // No window: today in the tenant's zone.
    const [a, stops] = await Promise.all([
      api.analytics(shift ? { from: shift.start, to: shift.end } : {}),
      // An ongoing stop may have begun before the shift: a day back finds it.
      api.stops({ from: Math.min(shift?.start ?? now, dayStart(now, zone.value), now - 86_400_000), to: now + 1 }),
    ]);
    const names = new Map(reasons.map((r) => [r.id, r.name]));
    figures.value = {
      label: shift ? 'This shift' : 'Today',
      byAsset: new Map(a.assets.map((r) => [r.asset_id, { availability: r.availability, downMs: r.down_ms, stops: r.stops }])),
      reasons: new Map(
        stops.filter((s) => s.ongoing && s.reason_id !== null && names.has(s.reason_id)).map((s) => [s.asset_id, names.get(s.reason_id!)!]),
      ),
    };
  } catch {
    // The figures are a bonus on the board; the tiles stand without them.
  }
}

/** Finds the tile's ongoing stop (a stop part of it, if it was split) and opens the reason dialog for it. */
async function giveReason(tile: Tile): Promise<void> {
  giving.value = { ...giving.value, finding: tile.id, note: null };
  try {
    const now = Date.now();
    const [stops, reasons] = await Promise.all([api.stops({ ...ongoingWindow(tile.since.peek(), now), asset_id: [tile.id] }), api.reasons()]);
    const part = ongoingPart(stops, tile.id);
    giving.value = part
      ? { target: { stop: part, machine: tile.name }, reasons, finding: null, note: null }
      : { ...giving.value, finding: null, note: `${tile.name} has no ongoing stop to give a reason to: it has started again, or it stopped outside planned time.` };
  } catch (err) {
    giving.value = { ...giving.value, finding: null, note: `The stop of ${tile.name} could not be read: ${errorText(err)}` };
  }
}

/** The tile shows the reason at once; the figures follow at the next read. */
function reasonGiven(stop: Stop, reasonId: number | null): void {
  const name = giving.value.reasons.find((r) => r.id === reasonId)?.name;
  const reasons = new Map(figures.value.reasons);
  if (name) reasons.set(stop.asset_id, name);
  else reasons.delete(stop.asset_id);
  figures.value = { ...figures.value, reasons };
  readFiguresSoon();
}

function BoardReasonDialog() {
  if (!canAnnotate.value) return null;
  const { target, reasons, note } = giving.value;
  return (
    <>
      {note && (
        <p class="notice" role="status">
          {note}{' '}
          <button type="button" class="link" onClick={() => (giving.value = { ...giving.value, note: null })}>
            Dismiss
          </button>
        </p>
      )}
      <ReasonDialog target={target} reasons={reasons} onClose={() => (giving.value = { ...giving.value, target: null })} onSaved={reasonGiven} />
    </>
  );
}

function readFiguresSoon(): void {
  if (figuresTimer) return;
  const wait = Math.max(2_000, figuresLast + 15_000 - Date.now());
  figuresTimer = setTimeout(() => {
    figuresTimer = null;
    void readFigures();
  }, wait);
}

function useBoardFigures() {
  useEffect(() => {
    void readFigures();
    const every = setInterval(() => void readFigures(), 60_000);
    const off = onLive((m) => {
      if (m.type === 'asset_state_change') readFiguresSoon();
    });
    return () => {
      clearInterval(every);
      off();
      if (figuresTimer) clearTimeout(figuresTimer);
      figuresTimer = null;
    };
  }, []);
}

/** The current shift, and how long it has left; between shifts, the next one. */
function ShiftBar() {
  const current = shiftNow.value;
  const tz = zone.value;
  const left = useComputed(() => {
    const end = shiftNow.value?.shift?.end;
    return end === undefined ? '' : formatDuration(Math.max(0, end - now.value));
  });
  if (!current || (!current.shift && !current.next)) return null;
  const { shift, next } = current;
  return (
    <p class="board-shift" data-testid="shift-bar">
      {shift ? (
        <>
          <strong>{shift.name} shift</strong> {formatTime(shift.start, tz, undefined, false)}–{formatTime(shift.end, tz, undefined, false)} ·{' '}
          <span class="shift-left">{left} left</span>
        </>
      ) : (
        <>
          <strong>Between shifts</strong>
          {next && (
            <>
              {' '}
              · next: {next.name} at {formatTime(next.start, tz, undefined, false)}
            </>
          )}
        </>
      )}
    </p>
  );
}

function TileView({ tile, group, label, tv }: { tile: Tile; group: Group; label?: string; tv?: boolean }) {
  const state = shownState(tile, group);
  const long = useComputed(() => isLongStop(tile, group, thresholdS.value, now.value)).value;
  const elapsed = useComputed(() => {
    const since = group.online.value ? tile.since.value : group.lastSeen.value;
    if (since === null) return '';
    return tv ? compactDuration(now.value - since) : formatDuration(now.value - since);
  });
  // Strings, so a re-read of the figures re-renders only the tiles whose text changed.
  const figuresText = useComputed(() => {
    const f = figures.value.byAsset.get(tile.id);
    if (!f) return ' ';
    const down = Math.round(f.downMs / 60_000);
    const text = `${formatPercent(f.availability)} · ${down} min down · ${f.stops} ${f.stops === 1 ? 'stop' : 'stops'}`;
    // The TV names the shift once, in its head.
    return tv ? text : `${figures.value.label} ${text}`;
  });
  const reason = useComputed(() => (shownState(tile, group) === 'STOPPED' ? (figures.value.reasons.get(tile.id) ?? '') : '')).value;
  const alert = useComputed(() => alertBook.markOf(tile.id, group.loggerId)).value;
  const finding = useComputed(() => giving.value.finding === tile.id).value;
  return (
    <li
      class={`tile ${state.toLowerCase()}${alert ? ' alerted' : ''}${long ? ' long-stop' : ''}`}
      data-asset-id={tile.id}
      data-state={state}
      data-alert={alert ?? undefined}
      data-long={long ? 'true' : undefined}
    >
      <a href={`/timeline?asset=${tile.id}`} class="tile-link">
        {alert && (
          <span class={`tile-alert ${alert}`}>
            <span aria-hidden="true">⚠ </span>
            {alert === 'active' ? 'Alert' : 'Alert acknowledged'}
          </span>
        )}
        {label && <span class="tile-group">{label}</span>}
        <span class="tile-name">{tile.name}</span>
        <span class="tile-state">
          {STATE_WORDS[state]}
          {long && (tv ? ' · long' : ' · long stop')}
        </span>
        <span class="tile-time">{elapsed.value && (tv ? elapsed : <>for {elapsed}</>)}</span>
        {reason && <span class="tile-reason">{reason}</span>}
        <span class="tile-today">{figuresText}</span>
      </a>
      {!tv && state === 'STOPPED' && canAnnotate.value && (
        <div class="tile-actions">
          <button type="button" class="tile-reason-button" aria-label={reasonTitle(tile.name)} disabled={finding} onClick={() => void giveReason(tile)}>
            Reason…
          </button>
        </div>
      )}
    </li>
  );
}

function LoggerBadge({ group }: { group: Group }) {
  const lastSeen = useComputed(() => formatAgo(group.lastSeen.value, now.value));
  return group.online.value ? (
    <span class="badge online">Online</span>
  ) : (
    <span class="badge offline" role="status">
      ⚠ Logger offline · last seen {lastSeen}
    </span>
  );
}

function SectionView({ section }: { section: Section }) {
  const logger = section.logger;
  const offline = logger && !logger.online.value;
  return (
    <section class={`group ${offline ? 'offline' : ''}`} aria-labelledby={`g-${section.key}`} data-logger={logger?.loggerId} data-section={section.key}>
      <header class="group-head">
        <h2 id={`g-${section.key}`}>{section.title}</h2>
        {logger && <LoggerBadge group={logger} />}
      </header>
      {section.items.length === 0 ? (
        <p class="hint">This logger has no machines yet: they appear with its first report.</p>
      ) : (
        <ul class="tiles">
          {section.items.map((p) => (
            <TileView key={p.tile.id} tile={p.tile} group={p.group} />
          ))}
        </ul>
      )}
    </section>
  );
}

const GROUPINGS: [Grouping, string][] = [
  ['logger', 'Logger'],
  ['line', 'Line'],
  ['area', 'Area'],
];
const ORDERS: [Order, string][] = [
  ['wired', 'As wired'],
  ['longest', 'Longest stopped first'],
];

/** How the board is grouped and ordered, kept in the URL (a TV's link keeps it). */
function arrangement(): { grouping: Grouping; order: Order } {
  const q = location.value.query;
  const grouping = GROUPINGS.find(([g]) => g === q.get('group'))?.[0] ?? 'logger';
  const order = ORDERS.find(([o]) => o === q.get('order'))?.[0] ?? 'wired';
  return { grouping, order };
}

function Arrange() {
  const { grouping, order } = arrangement();
  return (
    <form class="toolbar board-arrange" onSubmit={(e) => e.preventDefault()} aria-label="Arrange the board">
      <label>
        Group by
        <select value={grouping} onChange={(e) => setQuery({ group: e.currentTarget.value === 'logger' ? undefined : e.currentTarget.value })}>
          {GROUPINGS.map(([g, label]) => (
            <option key={g} value={g}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Order
        <select value={order} onChange={(e) => setQuery({ order: e.currentTarget.value === 'wired' ? undefined : e.currentTarget.value })}>
          {ORDERS.map(([o, label]) => (
            <option key={o} value={o}>
              {label}
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}

/** Since when the live socket is down (null: it is up), for the stale banner. */
function useDownSince(): number | null {
  const open = live.status.value === 'open';
  const [since, setSince] = useState<number | null>(null);
  useEffect(() => {
    setSince(open ? null : (s) => s ?? Date.now());
  }, [open]);
  return open ? null : (since ?? Date.now());
}

/** Full width while the board cannot be trusted: what it shows is the last known. */
function StaleBanner({ since }: { since: number | null }) {
  if (since === null) return null;
  return (
    <p class="stale-banner" role="alert" data-testid="stale-banner">
      Not live since {formatTime(since, zone.value, undefined, false)}: the server cannot be reached. The tiles show the last states known.
    </p>
  );
}

export function LiveStatus() {
  const status = live.status.value;
  const wait = useComputed(() => {
    const at = live.retryAt.value;
    return at === null ? '' : `${Math.max(0, Math.ceil((at - now.value) / 1000))} s`;
  });
  if (status === 'open') {
    return (
      <span class="live ok" role="status">
        ● Live
      </span>
    );
  }
  return (
    <span class="live down" role="status">
      {status === 'connecting' ? 'Connecting…' : <>Connection lost · retrying in {wait}</>}
      {status === 'waiting' && (
        <button type="button" class="link" onClick={() => live.reconnectNow()}>
          Retry now
        </button>
      )}
    </span>
  );
}

/**
 * The count of open alerts, linking to them; nothing at none. The status region stays in the page
 * so that screen readers hear a change of the count.
 */
export function AlertBadge() {
  const n = alertBook.count.value;
  const active = alertBook.activeCount.value;
  return (
    <span role="status" class="alert-status">
      {n > 0 && (
        <a href="/alerts" class={`alert-badge ${active > 0 ? 'active' : 'acknowledged'}`}>
          <span aria-hidden="true">⚠ </span>
          {countText(n)}
          {active > 0 && active < n && <span class="hint-inline"> · {active} not acknowledged</span>}
        </a>
      )}
    </span>
  );
}

function Summary() {
  const counts = useComputed(() => {
    const c = { RUNNING: 0, STOPPED: 0, UNKNOWN: 0 };
    for (const g of board.groups.value) for (const t of g.tiles) c[shownState(t, g)]++;
    return c;
  });
  const c = counts.value;
  return (
    <p class="summary" aria-label="Machines by state">
      <span class="pill running">{c.RUNNING} running</span>
      <span class="pill stopped">{c.STOPPED} stopped</span>
      <span class="pill unknown">{c.UNKNOWN} no signal</span>
    </p>
  );
}

function BoardBody() {
  if (!board.loaded.value) return boardError.value ? <p class="notice error">{boardError.value}</p> : <Loading what="the board" />;
  const groups = board.groups.value;
  if (groups.length === 0) {
    const origin = window.location.origin;
    return (
      <Empty title="No loggers yet">
        <p>
          A logger reports when a machine starts and stops. To see one here, start simulated machines with{' '}
          <code>assetlog-agent simulate --server {origin}</code>, or flash an ESP32-C3 logger with the server URL{' '}
          <code>{origin}</code>.
        </p>
        <p>
          A new logger waits until an admin claims it with the code on its display
          {isAdmin.value ? (
            <>
              : <a href="/loggers">claim a logger</a>.
            </>
          ) : (
            '.'
          )}
        </p>
      </Empty>
    );
  }
  const { grouping, order } = arrangement();
  const list = sections(groups, grouping, order);
  return (
    <>
      {list.map((s) => (
        <SectionView key={s.key} section={s} />
      ))}
    </>
  );
}

/** The TV's one grid of every tile, grown to fill the screen; each tile names its group. */
function TvGrid() {
  const [size, setSize] = useState({ width: window.innerWidth, height: window.innerHeight });
  useEffect(() => {
    const onResize = () => setSize({ width: window.innerWidth, height: window.innerHeight });
    window.addEventListener('resize', onResize);
    return () => window.removeEventListener('resize', onResize);
  }, []);
  if (!board.loaded.value || board.groups.value.length === 0) return <BoardBody />;
  const { grouping, order } = arrangement();
  const list = sections(board.groups.value, grouping, order);
  const items = list.flatMap((s) => s.items.map((p) => ({ ...p, label: s.title })));
  // The head takes about 5.5 rem of the height.
  const cols = tvColumns(items.length, size.width, size.height - 88);
  const rows = Math.max(1, Math.ceil(items.length / cols));
  return (
    <ul class="tiles tv-grid" style={`--tv-cols:${cols};--tv-rows:${rows}`}>
      {items.map((p) => (
        <TileView key={p.tile.id} tile={p.tile} group={p.group} label={p.label} tv />
      ))}
    </ul>
  );
}

export function Board() {
  useTitle('Live board');
  useBoardFigures();
  const downSince = useDownSince();
  useEffect(() => {
    void refreshBoard();
    void refreshAlerts();
  }, []);
  return (
    <main id="main" class="board">
      <div class="page-head">
        <h1>Live board</h1>
        <LiveStatus />
        <button
          type="button"
          onClick={() => {
            void document.documentElement.requestFullscreen?.().catch(() => {});
            navigate(`/tv${window.location.search}`);
          }}
        >
          TV mode
        </button>
      </div>
      <StaleBanner since={board.loaded.value ? downSince : null} />
      <ShiftBar />
      <BoardReasonDialog />
      {board.groups.value.length > 0 && (
        <div class="board-bar">
          <Summary />
          <Arrange />
        </div>
      )}
      <div class={downSince !== null && board.loaded.value ? 'is-stale' : undefined}>
        <BoardBody />
      </div>
    </main>
  );
}

export function TvBoard() {
  useTitle('TV board');
  useBoardFigures();
  const downSince = useDownSince();
  useEffect(() => {
    void refreshBoard();
    void refreshAlerts();
    document.documentElement.classList.add('tv');
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !isDisplay.value) navigate('/');
    };
    window.addEventListener('keydown', onKey);
    return () => {
      document.documentElement.classList.remove('tv');
      window.removeEventListener('keydown', onKey);
    };
  }, []);
  const clock = useComputed(() => formatTime(now.value, zone.value, undefined, false));
  return (
    <main id="main" class="board tv-board">
      <div class="page-head">
        <h1 class="visually-hidden">Live board</h1>
        <Summary />
        <ShiftBar />
        <AlertBadge />
        <LiveStatus />
        <span class="clock">{clock}</span>
        {/* A wall screen's display token has nowhere else to go. */}
        {!isDisplay.value && (
          <a
            href="/"
            class="button"
            onClick={() => {
              if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
            }}
          >
            Exit TV mode
          </a>
        )}
      </div>
      <StaleBanner since={board.loaded.value ? downSince : null} />
      <div class={downSince !== null && board.loaded.value ? 'is-stale tv-body' : 'tv-body'}>
        <TvGrid />
      </div>
    </main>
  );
}
