// The signed-in tab's live state: the board model and the open alerts, the live socket feeding
// them, and the re-reads that keep them true after anything the socket cannot tell (reconnects,
// new loggers, a logger back, and, once a minute, names changed or loggers deleted in another tab).

import { signal } from '@preact/signals';
import { AlertBook, mergeNewestFirst } from './alerts';
import { api, currentToken, liveUrl } from './api';
import { BoardModel } from './board';
import { LiveConnection, type LiveMessage } from './live';
import { recheck } from './session';

export const board = new BoardModel();
export const boardError = signal<string | null>(null);
/** The open alerts (active or acknowledged): the header's badge, the board's marks, the Alerts page. */
export const alertBook = new AlertBook();
export const alertsError = signal<string | null>(null);
/** Ticks every second: what "time in state" and "last seen" are counted against. */
export const now = signal(Date.now());

type Listener = (m: LiveMessage) => void;
const listeners = new Set<Listener>();

/** Other pages (loggers, stops) hear live messages too. */
export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const reconnects = new Set<() => void>();

/** Pages with data of their own (the alert history, deliveries) re-read it on every (re)connection. */
export function onReconnect(listener: () => void): () => void {
  reconnects.add(listener);
  return () => reconnects.delete(listener);
}

let refreshTimer: ReturnType<typeof setTimeout> | null = null;
let refreshing: Promise<void> | null = null;
let again = false;

/** Re-reads loggers and assets; calls that arrive during a read cause one more read after it. */
export function refreshBoard(): Promise<void> {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      do {
        again = false;
        board.load(await api.loggers());
        boardError.value = null;
      } while (again);
    } catch (e) {
      boardError.value = e instanceof Error ? e.message : String(e);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let alertsReading: Promise<void> | null = null;
let alertsAgain = false;

/** Re-reads the open alerts (the API takes one state a request); as `refreshBoard`, calls during a read cause one more. */
export function refreshAlerts(): Promise<void> {
  if (alertsReading) {
    alertsAgain = true;
    return alertsReading;
  }
  alertsReading = (async () => {
    try {
      do {
        alertsAgain = false;
        alertBook.beginRead();
        const [active, acknowledged] = await Promise.all([api.alerts({ state: 'active' }), api.alerts({ state: 'acknowledged' })]);
        alertBook.load(mergeNewestFirst(active, acknowledged));
        alertsError.value = null;
      } while (alertsAgain);
    } catch (e) {
      alertsError.value = e instanceof Error ? e.message : String(e);
    } finally {
      alertsReading = null;
    }
  })();
  return alertsReading;
}

function refreshSoon(): void {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    void refreshBoard();
  }, 250);
}

export const live = new LiveConnection({
  url: () => {
    const token = currentToken();
    return token ? liveUrl(window.location, token) : null;
  },
  onOpen: () => {
    void refreshBoard();
    void refreshAlerts();
    for (const l of reconnects) l();
  },
  onMessage: (message) => {
    if (message.type === 'alert') alertBook.applyMessage(message);
    // A rule deleted or disabled clears its alerts without a message of their own.
    else if (message.type === 'alert_config_changed') void refreshAlerts();
    else if (board.apply(message)) refreshSoon();
    for (const l of listeners) l(message);
  },
  // The socket cannot tell why it was refused or closed; a REST call can (a 401 ends the
  // session; a changed role is kept and shown).
  onSessionDoubt: () => void recheck(),
});

let ticker: ReturnType<typeof setInterval> | null = null;
let rereader: ReturnType<typeof setInterval> | null = null;

/**
 * How often a visible board re-reads loggers and assets. The socket tells states, not renames
 * or deletions made elsewhere: without this a TV on the wall would show an old name for good.
 */
export const REREAD_MS = 60_000;

export function startLive(): void {
  live.start();
  ticker ??= setInterval(() => (now.value = Date.now()), 1000);
  rereader ??= setInterval(() => {
    if (document.visibilityState === 'visible') {
      void refreshBoard();
      void refreshAlerts();
    }
  }, REREAD_MS);
  document.addEventListener('visibilitychange', onVisible);
}

export function stopLive(): void {
  live.stop();
  if (ticker) clearInterval(ticker);
  ticker = null;
  if (rereader) clearInterval(rereader);
  rereader = null;
  document.removeEventListener('visibilitychange', onVisible);
  board.load([]);
  board.loaded.value = false;
  alertBook.reset();
}

function onVisible(): void {
  // A tab in the background may have missed frames and timers: re-read when it comes back.
  if (document.visibilityState === 'visible') {
    now.value = Date.now();
    if (live.status.value === 'waiting') live.reconnectNow();
    else {
      void refreshBoard();
      void refreshAlerts();
    }
  }
}
