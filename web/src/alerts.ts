// Alerts as the dashboard holds them: the open ones (active or acknowledged) in an `AlertBook`
// that REST reads fill and live `alert` messages move, the order they are shown in, which
// machines they mark on the board, and the words for what an alert is about.
//
// A re-read and the socket race: a message can arrive while a read is on its way, and the read
// may answer with the state from before that message. The book keeps the messages that arrive
// during a read and applies them again on its answer, and never moves an alert back (a cleared
// one does not reopen, an acknowledged one does not turn active), so either order ends the same.

import { computed, signal } from '@preact/signals';
import type { Alert, AlertState, ChannelTestResult, Delivery } from './api';
import type { AlertMessage } from './live';

const RANK: Record<AlertState, number> = { active: 0, acknowledged: 1, cleared: 2 };

export function isOpen(alert: Alert): boolean {
  return alert.state !== 'cleared';
}

/** Newest first, as the API answers: by opening time, then by id. */
export function newestFirst(a: Alert, b: Alert): number {
  return b.opened_at - a.opened_at || b.id - a.id;
}

/** Open alerts as the Alerts page lists them: active ones first, then acknowledged, newest first in each. */
export function orderOpen(alerts: Iterable<Alert>): Alert[] {
  return [...alerts].filter(isOpen).sort((a, b) => RANK[a.state] - RANK[b.state] || newestFirst(a, b));
}

/**
 * Lists of alerts read separately (the open ones are read per state: a read of every state stops
 * at 1000, which a long history could fill with cleared ones) as one list, newest first, each
 * alert once.
 */
export function mergeNewestFirst(...lists: Alert[][]): Alert[] {
  const byId = new Map<number, Alert>();
  for (const list of lists) for (const a of list) byId.set(a.id, later(byId.get(a.id), a));
  return [...byId.values()].sort(newestFirst);
}

/** Of two versions of one alert, the one further along (the incoming one on a tie). */
function later(known: Alert | undefined, incoming: Alert): Alert {
  return known && RANK[known.state] > RANK[incoming.state] ? known : incoming;
}

/** The open alerts of the signed-in tenant, for the header badge, the board and the Alerts page. */
export class AlertBook {
  /** Open alerts by id. */
  readonly open = signal<ReadonlyMap<number, Alert>>(new Map());
  readonly loaded = signal(false);
  readonly count = computed(() => this.open.value.size);
  /** Open alerts nobody has acknowledged yet. */
  readonly activeCount = computed(() => {
    let n = 0;
    for (const a of this.open.value.values()) if (a.state === 'active') n++;
    return n;
  });
  /** Machines with an open alert of their own, with its state (active over acknowledged). */
  readonly byAsset = computed(() => {
    const states = new Map<number, AlertState>();
    for (const a of this.open.value.values()) if (a.asset_id !== null) states.set(a.asset_id, urgent(states.get(a.asset_id), a.state));
    return states;
  });
  /** Loggers with an open alert about the logger itself (offline): all its machines are marked. */
  readonly byLogger = computed(() => {
    const states = new Map<string, AlertState>();
    for (const a of this.open.value.values()) {
      if (a.asset_id === null && a.logger_id !== null) states.set(a.logger_id, urgent(states.get(a.logger_id), a.state));
    }
    return states;
  });
  /** Versions seen since the last read began, to apply again over its answer. */
  private duringRead: Alert[] | null = null;
  /** Alerts known cleared: a late or stale copy never reopens them. */
  private cleared = new Set<number>();

  /** Call when a read of the open alerts starts; `load` takes its answer. */
  beginRead(): void {
    this.duringRead = [];
  }

  /** Replaces the open alerts with a read's answer, then applies what arrived meanwhile. */
  load(openAlerts: Alert[]): void {
    const meanwhile = this.duringRead ?? [];
    this.duringRead = null;
    const next = new Map<number, Alert>();
    const old = this.open.peek();
    for (const a of openAlerts) {
      if (this.cleared.has(a.id) || !isOpen(a)) continue;
      next.set(a.id, later(old.get(a.id), a));
    }
    for (const a of meanwhile) put(next, a, this.cleared);
    this.open.value = next;
    this.loaded.value = true;
  }

  /** A live message, or the answer of an acknowledgement made here. */
  apply(alert: Alert): void {
    this.duringRead?.push(alert);
    const next = new Map(this.open.peek());
    if (put(next, alert, this.cleared)) this.open.value = next;
  }

  applyMessage(message: AlertMessage): void {
    this.apply(message.alert);
  }

  /** Forgets everything (signed out). */
  reset(): void {
    this.duringRead = null;
    this.cleared = new Set();
    this.open.value = new Map();
    this.loaded.value = false;
  }

  /** The mark of a machine (on the logger `loggerId`): 'active' when any of its open alerts is, else 'acknowledged', or null. */
  markOf(assetId: number, loggerId: string): AlertState | null {
    const own = this.byAsset.value.get(assetId);
    const logger = this.byLogger.value.get(loggerId);
    if (own === undefined) return logger ?? null;
    return logger === undefined ? own : urgent(own, logger);
  }
}

/** Of two open states, the one that needs someone more. */
function urgent(a: AlertState | undefined, b: AlertState): AlertState {
  return a === 'active' || b === 'active' ? 'active' : b;
}

/** Puts one version of an alert into `open`; returns whether anything changed. */
function put(open: Map<number, Alert>, alert: Alert, cleared: Set<number>): boolean {
  if (alert.state === 'cleared') {
    cleared.add(alert.id);
    return open.delete(alert.id);
  }
  if (cleared.has(alert.id)) return false;
  const known = open.get(alert.id);
  const kept = later(known, alert);
  if (kept === known) return false;
  open.set(alert.id, kept);
  return true;
}

/** "1 open alert", "3 open alerts". */
export function countText(n: number): string {
  return `${n} open ${n === 1 ? 'alert' : 'alerts'}`;
}

export const STATE_WORDS: Record<AlertState, string> = { active: 'Active', acknowledged: 'Acknowledged', cleared: 'Cleared' };

/** Names the dashboard knows, to say which machine or logger an alert is about. */
export interface Names {
  assets: ReadonlyMap<number, string>;
  loggers: ReadonlyMap<string, string>;
}

/** Which machine an alert is about: its name, its logger's (offline), or all machines. */
export function subjectOf(alert: Pick<Alert, 'asset_id' | 'logger_id'>, names: Names): string {
  if (alert.asset_id !== null) return names.assets.get(alert.asset_id) ?? `Machine ${alert.asset_id}`;
  if (alert.logger_id !== null) return `Logger ${names.loggers.get(alert.logger_id) ?? alert.logger_id}`;
  return 'All machines';
}

/** What a test or a delivery came to, in words: "Delivered (HTTP 200)", "Failed: timed out". */
export function deliveryText(d: Pick<ChannelTestResult, 'ok' | 'status' | 'error'>): string {
  const status = d.status === null ? '' : ` (HTTP ${d.status})`;
  if (d.ok) return `Delivered${status}`;
  return `Failed${status}${d.error ? `: ${d.error}` : ''}`;
}

export const DELIVERY_EVENT_WORDS: Record<Delivery['event'], string> = {
  opened: 'Opened',
  cleared: 'Cleared',
  escalated: 'Escalated',
  test: 'Test',
};

/** The states the history can be filtered to; '' is any state. */
export type HistoryFilter = AlertState | '';

/** The history's filter from the address (`state=any`, `state=active`, …): cleared by default. */
export function historyFilter(value: string | null): HistoryFilter {
  if (value === 'any') return '';
  if (value === 'active' || value === 'acknowledged' || value === 'cleared') return value;
  return 'cleared';
}

/** The `state` to ask the API for: none asks for all. */
export function stateParam(filter: HistoryFilter): AlertState | undefined {
  return filter === '' ? undefined : filter;
}
