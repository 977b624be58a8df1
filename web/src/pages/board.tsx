// The live board: a tile per asset, grouped by logger, coloured by state, with time in state
// ticking and today's availability. Each tile subscribes to its own signals, so one live message
// re-renders one tile. TV mode is the same board, full screen, dark and without navigation. A
// machine with an open alert carries a mark; the count of open alerts sits in the header (and on
// the TV, which has none).

import { signal, useComputed } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { countText } from '../alerts';
import { api, type AssetState } from '../api';
import { type Group, type Tile, shownState } from '../board';
import { formatAgo, formatDuration, formatPercent } from '../format';
import { navigate } from '../router';
import { isAdmin, zone } from '../session';
import { formatTime } from '../time';
import { alertBook, board, boardError, live, now, onLive, refreshAlerts, refreshBoard } from '../store';
import { Empty, Loading, useTitle } from '../ui';

const STATE_WORDS: Record<AssetState, string> = { RUNNING: 'Running', STOPPED: 'Stopped', UNKNOWN: 'No signal' };

/** Today's availability and stops per asset, re-read every minute and soon after changes. */
const today = signal<Map<number, { availability: number | null; stops: number }>>(new Map());
let todayTimer: ReturnType<typeof setTimeout> | null = null;
let todayLast = 0;

async function readToday(): Promise<void> {
  todayLast = Date.now();
  try {
    const a = await api.analytics({}) // no window: today in the tenant's zone;
    today.value = new Map(a.assets.map((r) => [r.asset_id, { availability: r.availability, stops: r.stops }]));
  } catch {
    // The figures are a bonus on the board; the tiles stand without them.
  }
}

function readTodaySoon(): void {
  if (todayTimer) return;
  const wait = Math.max(2_000, todayLast + 15_000 - Date.now());
  todayTimer = setTimeout(() => {
    todayTimer = null;
    void readToday();
  }, wait);
}

function useTodayFigures() {
  useEffect(() => {
    void readToday();
    const every = setInterval(() => void readToday(), 60_000);
    const off = onLive((m) => {
      if (m.type === 'asset_state_change') readTodaySoon();
    });
    return () => {
      clearInterval(every);
      off();
      if (todayTimer) clearTimeout(todayTimer);
      todayTimer = null;
    };
  }, []);
}

function TileView({ tile, group }: { tile: Tile; group: Group }) {
  const state = shownState(tile, group);
  const elapsed = useComputed(() => {
    const since = group.online.value ? tile.since.value : group.lastSeen.value;
    return since === null ? '' : formatDuration(now.value - since);
  });
  // A string, so a re-read of today's figures re-renders only the tiles whose text changed.
  const todayText = useComputed(() => {
    const f = today.value.get(tile.id);
    return f ? `Today ${formatPercent(f.availability)} · ${f.stops} ${f.stops === 1 ? 'stop' : 'stops'}` : ' ';
  });
  const alert = useComputed(() => alertBook.markOf(tile.id, group.loggerId)).value;
  return (
    <li class={`tile ${state.toLowerCase()}${alert ? ' alerted' : ''}`} data-asset-id={tile.id} data-state={state} data-alert={alert ?? undefined}>
      <a href={`/timeline?asset=${tile.id}`} class="tile-link">
        {alert && (
          <span class={`tile-alert ${alert}`}>
            <span aria-hidden="true">⚠ </span>
            {alert === 'active' ? 'Alert' : 'Alert acknowledged'}
          </span>
        )}
        <span class="tile-name">{tile.name}</span>
        <span class="tile-state">{STATE_WORDS[state]}</span>
        <span class="tile-time">{elapsed.value && <>for {elapsed}</>}</span>
        <span class="tile-today">{todayText}</span>
      </a>
    </li>
  );
}

function GroupView({ group }: { group: Group }) {
  const online = group.online.value;
  const lastSeen = useComputed(() => formatAgo(group.lastSeen.value, now.value));
  return (
    <section class={`group ${online ? '' : 'offline'}`} aria-labelledby={`g-${group.id}`} data-logger={group.loggerId}>
      <header class="group-head">
        <h2 id={`g-${group.id}`}>{group.name}</h2>
        {online ? (
          <span class="badge online">Online</span>
        ) : (
          <span class="badge offline" role="status">
            ⚠ Logger offline · last seen {lastSeen}
          </span>
        )}
      </header>
      {group.tiles.length === 0 ? (
        <p class="hint">This logger has no machines yet: they appear with its first report.</p>
      ) : (
        <ul class="tiles">
          {group.tiles.map((t) => (
            <TileView key={t.id} tile={t} group={group} />
          ))}
        </ul>
      )}
    </section>
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
  return (
    <>
      {groups.map((g) => (
        <GroupView key={g.id} group={g} />
      ))}
    </>
  );
}

export function Board() {
  useTitle('Live board');
  useTodayFigures();
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
            navigate('/tv');
          }}
        >
          TV mode
        </button>
      </div>
      {board.groups.value.length > 0 && <Summary />}
      <BoardBody />
    </main>
  );
}

export function TvBoard() {
  useTitle('TV board');
  useTodayFigures();
  useEffect(() => {
    void refreshBoard();
    void refreshAlerts();
    document.documentElement.classList.add('tv');
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') navigate('/');
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
        <AlertBadge />
        <LiveStatus />
        <span class="clock">{clock}</span>
        <a
          href="/"
          class="button"
          onClick={() => {
            if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
          }}
        >
          Exit TV mode
        </a>
      </div>
      <BoardBody />
    </main>
  );
}
