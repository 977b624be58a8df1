// The live socket: one WebSocket per signed-in tab, reconnected with capped exponential backoff
// and jitter. The server sends no snapshot, and messages sent while we were away are gone, so
// every (re)connection calls `onOpen`, where the caller re-reads the state over REST.

import { signal } from '@preact/signals';
import type { Alert } from './api';

export type LiveStatus = 'connecting' | 'open' | 'waiting' | 'stopped';

export interface AssetStateChange {
  type: 'asset_state_change';
  asset_id: number;
  asset_name: string;
  logger_id: string;
  pin_number: number;
  state: 'RUNNING' | 'STOPPED';
  timestamp: string;
  duration_ms: number | null;
}

export interface LoggerStatus {
  type: 'logger_status';
  logger_id: string;
  online: boolean;
  last_seen: string;
}

/** An alert opened, acknowledged, cleared or escalated; `alert` is how it stands after that. */
export interface AlertMessage {
  type: 'alert';
  event: 'opened' | 'acknowledged' | 'cleared' | 'escalated';
  alert: Alert;
}

/** Alert rules or channels changed (in any tab, by any admin). */
export interface AlertConfigChanged {
  type: 'alert_config_changed';
}

export type LiveMessage = AssetStateChange | LoggerStatus | AlertMessage | AlertConfigChanged;

const ALERT_EVENTS = new Set(['opened', 'acknowledged', 'cleared', 'escalated']);
const ALERT_STATES = new Set(['active', 'acknowledged', 'cleared']);

/** Parses one text frame; anything we do not know is ignored (null), never thrown. */
export function parseMessage(text: string): LiveMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  if (
    m.type === 'asset_state_change' &&
    typeof m.asset_id === 'number' &&
    (m.state === 'RUNNING' || m.state === 'STOPPED') &&
    typeof m.timestamp === 'string'
  ) {
    return m as unknown as AssetStateChange;
  }
  if (m.type === 'logger_status' && typeof m.logger_id === 'string' && typeof m.online === 'boolean') {
    return m as unknown as LoggerStatus;
  }
  if (m.type === 'alert' && typeof m.event === 'string' && ALERT_EVENTS.has(m.event) && typeof m.alert === 'object' && m.alert !== null) {
    const a = m.alert as Record<string, unknown>;
    if (typeof a.id === 'number' && typeof a.state === 'string' && ALERT_STATES.has(a.state)) return m as unknown as AlertMessage;
  }
  if (m.type === 'alert_config_changed') return { type: 'alert_config_changed' };
  return null;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to at most 30 s, with
 * "equal jitter" (half fixed, half random) so a restarted server is not hit by every tab at once.
 */
export function backoffDelay(attempt: number, random: number = Math.random()): number {
  const ceiling = Math.min(30_000, 500 * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/** Close code the server sends when the session that opened the socket ended or changed. */
export const CLOSE_SESSION_CHANGED = 1008;

/** A connection counts as healthy (and resets the backoff) once it has stayed open this long. */
const HEALTHY_AFTER_MS = 5_000;

export interface LiveOptions {
  url: () => string | null;
  onMessage: (message: LiveMessage) => void;
  onOpen: () => void;
  /**
   * Called when the session may have ended: an attempt failed without ever opening (maybe the
   * token expired), or the server closed the socket because the session ended or changed.
   */
  onSessionDoubt?: () => void;
  createSocket?: (url: string) => WebSocket;
}

export class LiveConnection {
  readonly status = signal<LiveStatus>('stopped');
  /** When the next attempt is due (epoch ms), while waiting. */
  readonly retryAt = signal<number | null>(null);
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private healthy: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(private readonly options: LiveOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close(1000, 'signed out');
    }
    this.status.value = 'stopped';
    this.retryAt.value = null;
  }

  /** Try now instead of waiting out the backoff (the "reconnect now" button). */
  reconnectNow(): void {
    if (!this.running || this.status.value !== 'waiting') return;
    this.clearTimers();
    this.connect();
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.healthy) clearTimeout(this.healthy);
    this.timer = this.healthy = null;
  }

  private connect(): void {
    const url = this.options.url();
    if (!url) {
      this.stop();
      return;
    }
    this.status.value = 'connecting';
    this.retryAt.value = null;
    const socket = (this.options.createSocket ?? ((u) => new WebSocket(u)))(url);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.status.value = 'open';
      this.healthy = setTimeout(() => (this.attempt = 0), HEALTHY_AFTER_MS);
      this.options.onOpen();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      const message = parseMessage(event.data);
      if (message) this.options.onMessage(message);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.healthy) clearTimeout(this.healthy);
      if (!this.running) return;
      // A removed person's tab learns it now, not after the backoff's next refused attempt.
      if (!opened || event.code === CLOSE_SESSION_CHANGED) this.options.onSessionDoubt?.();
      if (!this.running) return;
      const delay = backoffDelay(this.attempt++);
      this.status.value = 'waiting';
      this.retryAt.value = Date.now() + delay;
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
}
