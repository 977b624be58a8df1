// The server's JSON API (docs/API.md), typed. Every call carries the session token; a 401 on any
// call but sign-in ends the session, so an expired token sends the user back to the sign-in page.

/** `display`: a wall screen's read-only token (kiosk), never a person's role. */
export type Role = 'display' | 'viewer' | 'operator' | 'admin';
export type AssetState = 'RUNNING' | 'STOPPED' | 'UNKNOWN';

export interface User {
  id: number;
  email: string;
  role: Role;
}

export interface Tenant {
  id: number;
  name: string;
}

export interface Session {
  token: string;
  expires_at: number;
  user: User;
  tenant: Tenant;
}

export interface Asset {
  id: number;
  name: string;
  logger_id: string;
  pin_number: number;
  short_stop_threshold_s: number | null;
  /** The production line and the area of the plant it stands in (null: none given). */
  line: string | null;
  area: string | null;
  /** Its own target availability, 0 to 1 (null: the tenant's applies). */
  target_availability: number | null;
  state: AssetState;
  since: number | null;
}

export interface Logger {
  id: number;
  logger_id: string;
  name: string;
  status: string;
  online: boolean;
  last_seen: number | null;
  firmware_version: string | null;
  ip_address: string | null;
  rssi: number | null;
  free_heap: number | null;
  uptime_s: number | null;
  queued_events: number | null;
  /** Events the logger had to drop because its queue was full (from its heartbeats). */
  dropped_events?: number | null;
  allow_keyless: boolean;
  acked_seq: number;
  assets: Asset[];
}

/** A logger waiting to be claimed, as an admin of any tenant sees it (no claim code, no key). */
export interface PendingLogger {
  logger_id: string;
  first_seen: number;
  last_seen: number | null;
  remote_address: string | null;
  ip_address: string | null;
  firmware_version: string | null;
  events: number;
  assets: number;
}

export interface StoredEvent {
  id: number;
  asset_id: number;
  logger_id: string;
  pin: number;
  state: 'RUNNING' | 'STOPPED';
  ts: number;
  received_at: number;
  seq: number | null;
}

export interface Figures {
  run_ms: number;
  down_ms: number;
  unknown_ms: number;
  unplanned_ms: number;
  stops: number;
  short_stops: number;
  long_stops: number;
  availability: number | null;
  mtbf_ms: number | null;
  mttr_ms: number | null;
}

export interface ReasonShare {
  reason_id: number | null;
  name: string;
  category: string | null;
  stops: number;
  down_ms: number;
}

export interface BucketFigures extends Figures {
  start: string;
  end: string;
  shift?: string;
}

export interface AssetFigures extends Figures {
  asset_id: number;
  asset_name: string;
  downtime_by_reason: ReasonShare[];
  buckets: BucketFigures[];
}

export interface Analytics {
  from: string;
  to: string;
  timezone: string;
  assets: AssetFigures[];
  total: Figures & { downtime_by_reason: ReasonShare[]; buckets: BucketFigures[] };
}

export type Bucket = 'hour' | 'day' | 'week' | 'month' | 'shift';

export interface Stop {
  id: string;
  asset_id: number;
  stop_start: number;
  start: number;
  end: number;
  duration_ms: number;
  stop_duration_ms: number;
  ongoing: boolean;
  short: boolean;
  reason_id: number | null;
  comment: string;
}

export interface Settings {
  timezone: string;
  short_stop_threshold_s: number;
  /** Days of history kept; null keeps all of it. */
  retention_days: number | null;
  /** The availability the tenant aims for, 0 to 1 (null: none); a machine's own wins. */
  target_availability: number | null;
}

export interface Shift {
  name: string;
  days: string[];
  start: string;
  end: string;
  breaks: { start: string; end: string }[];
}

/** A wall screen's read-only token, as an admin sees it (the token itself is shown once). */
export interface Display {
  id: number;
  name: string;
  created_at: number;
}

/** A shift occurrence: its name, span and breaks, epoch ms. */
export interface ShiftStretch {
  name: string;
  start: number;
  end: number;
  breaks: { start: number; end: number }[];
}

export interface CurrentShift {
  now: number;
  shift: ShiftStretch | null;
  next: ShiftStretch | null;
}

/** A shift calendar and the first local day it applies on (null: the first, also every day before the next). */
export interface DatedShifts {
  from: string | null;
  shifts: Shift[];
}

export interface Stretch {
  start: number;
  end: number;
}

/** `GET /api/v1/timeline`: what the figures are computed from, per asset, and the window's shifts. */
export interface Timeline {
  from: number;
  to: number;
  now: number;
  timezone: string;
  shifts: { name: string; start: number; end: number; breaks: Stretch[] }[];
  assets: {
    asset_id: number;
    asset_name: string;
    states: (Stretch & { state: AssetState })[];
    planned: Stretch[];
    downtime: Stretch[];
  }[];
}

/** A weekly planned downtime's times: local days (`mon` … `sun`) and `HH:MM` in the tenant's zone. */
export interface WeeklyTimes {
  days: string[];
  start: string;
  end: string;
}

export interface PlannedDowntime {
  id: number;
  asset_id: number | null;
  /** A one-off's span `[from, to)`; a weekly one's first and last instant (`to` null: for good). */
  from: number;
  to: number | null;
  note: string;
  /** Null for a one-off. */
  weekly: WeeklyTimes | null;
}

/** What `POST /api/v1/planned-downtime` takes: a one-off span, or weekly times from `from` (default now) until `to` (default for good). */
export type PlannedDowntimeBody =
  | { asset_id: number | null; note: string; from: number; to: number }
  | { asset_id: number | null; note: string; weekly: WeeklyTimes; from?: number; to?: number };

export interface Reason {
  id: number;
  category: string;
  name: string;
}

export type ChannelKind = 'webhook' | 'slack' | 'teams' | 'email';

/** Where alerts are sent. `secret` is a webhook channel's HMAC key, for its receiver. */
export interface AlertChannel {
  id: number;
  name: string;
  kind: ChannelKind;
  url: string | null;
  to: string[];
  secret: string | null;
}

/** What a channel is created or replaced with. */
export interface AlertChannelBody {
  name: string;
  kind: ChannelKind;
  url?: string;
  to?: string[];
}

/** The answer of a channel's "Send test". */
export interface ChannelTestResult {
  ok: boolean;
  status: number | null;
  error: string | null;
  at: number;
}

export type RuleKind = 'stop_longer_than' | 'logger_offline' | 'availability_below';

/** When an alert opens, and whom it tells. */
export interface AlertRule {
  id: number;
  name: string;
  kind: RuleKind;
  /** null: all machines. */
  asset_ids: number[] | null;
  /** stop_longer_than: how long a stop lasts first; logger_offline: an extra delay (or null). */
  threshold_s: number | null;
  /** availability_below: the percentage (0–100). */
  threshold_pct: number | null;
  only_in_planned_time: boolean;
  channel_ids: number[];
  escalate_after_s: number | null;
  escalate_channel_ids: number[];
  notify_on_clear: boolean;
  enabled: boolean;
}

export type AlertRuleBody = Omit<AlertRule, 'id'>;

export type AlertState = 'active' | 'acknowledged' | 'cleared';

export interface Alert {
  id: number;
  rule_id: number;
  rule_name: string;
  kind: RuleKind;
  asset_id: number | null;
  logger_id: string | null;
  /** When the condition began (the stop's start, the logger's last report). */
  since: number;
  opened_at: number;
  acknowledged_at: number | null;
  /** The email of who acknowledged it. */
  acknowledged_by: string | null;
  ack_comment: string | null;
  cleared_at: number | null;
  escalated_at: number | null;
  state: AlertState;
  detail: { text: string };
}

export type DeliveryEvent = 'opened' | 'cleared' | 'escalated' | 'test';

/** One attempt to tell a channel about an alert (or a test). */
export interface Delivery {
  delivery_id: number;
  alert_id: number | null;
  channel_id: number;
  channel_name: string;
  event: DeliveryEvent;
  at: number;
  ok: boolean;
  status: number | null;
  error: string | null;
}

/** When a report is sent: after each shift of the calendar, after each day, after each week (from Monday). */
export type Schedule = 'end_of_each_shift' | 'daily' | 'weekly';

/** What a report is created or replaced with. */
export interface ReportBody {
  name: string;
  schedule: Schedule;
  to: string[];
  /** null: all machines. */
  asset_ids: number[] | null;
}

/** A shift report sent by email: a summary of each period with its stops as CSV. */
export interface Report extends ReportBody {
  id: number;
  created_at: number;
  /** The end of the last period sent; null before the first. */
  last_period_end: number | null;
}

/** An error answer of the API: `{"error": {"code", "message"}}` with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let token: string | null = null;
let onUnauthorized: () => void = () => {};

/** Which token calls carry, and what to do when the server no longer accepts it. */
export function configure(t: string | null, unauthorized?: () => void): void {
  token = t;
  if (unauthorized) onUnauthorized = unauthorized;
}

export function currentToken(): string | null {
  return token;
}

interface Options {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | (string | number)[]>;
  accept?: string;
  /** Sign-in and sign-up: a 401 there is a wrong password, not an expired session. */
  anonymous?: boolean;
}

export function queryString(query: Options['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)));
    else params.append(key, String(value));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

async function send(method: string, path: string, options: Options = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (token && !options.anonymous) headers['Authorization'] = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path + queryString(options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  if (response.ok) return response;
  let code = 'http_' + response.status;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // Not our JSON error (a proxy in between?): keep the status line.
  }
  if (response.status === 401 && !options.anonymous) onUnauthorized();
  throw new ApiError(response.status, code, message);
}

async function json<T>(method: string, path: string, options?: Options): Promise<T> {
  const response = await send(method, path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

const v1 = '/api/v1';

export const api = {
  signup: (email: string, password: string, tenant_name: string) =>
    json<Session>('POST', `${v1}/auth/signup`, { body: { email, password, tenant_name }, anonymous: true }),
  login: (email: string, password: string) =>
    json<Session>('POST', `${v1}/auth/login`, { body: { email, password }, anonymous: true }),
  logout: () => json<void>('POST', `${v1}/auth/logout`),
  me: () => json<{ user: User; tenant: Tenant }>('GET', `${v1}/auth/me`),
  displays: () => json<Display[]>('GET', `${v1}/displays`),
  addDisplay: (name: string) => json<Display & { token: string }>('POST', `${v1}/displays`, { body: { name } }),
  deleteDisplay: (id: number) => json<void>('DELETE', `${v1}/displays/${id}`),

  users: () => json<User[]>('GET', `${v1}/users`),
  addUser: (email: string, password: string, role: Role) =>
    json<User>('POST', `${v1}/users`, { body: { email, password, role } }),
  deleteUser: (id: number) => json<void>('DELETE', `${v1}/users/${id}`),
  setUserRole: (id: number, role: Role) => json<User>('PATCH', `${v1}/users/${id}`, { body: { role } }),

  loggers: () => json<Logger[]>('GET', `${v1}/loggers`),
  claim: (logger_id: string, claim_code: string) =>
    json<Logger>('POST', `${v1}/loggers/claim`, { body: { logger_id, claim_code } }),
  updateLogger: (id: number, change: { name?: string; allow_keyless?: boolean }) =>
    json<Logger>('PUT', `${v1}/loggers/${id}`, { body: change }),
  deleteLogger: (id: number, purge: boolean) =>
    json<void>('DELETE', `${v1}/loggers/${id}`, { query: { purge } }),
  rotateKey: (id: number) => json<{ id: number; device_key: string }>('POST', `${v1}/loggers/${id}/rotate-key`),
  pendingLoggers: () => json<PendingLogger[]>('GET', `${v1}/loggers/pending`),
  releasePending: (logger_id: string) => json<void>('DELETE', `${v1}/loggers/pending/${encodeURIComponent(logger_id)}`),

  assets: () => json<Asset[]>('GET', `${v1}/assets`),
  updateAsset: (
    id: number,
    change: { name?: string; short_stop_threshold_s?: number | null; line?: string | null; area?: string | null; target_availability?: number | null },
  ) =>
    json<Asset>('PUT', `${v1}/assets/${id}`, { body: change }),

  events: (query: { asset_id?: number; from?: number; to?: number; limit?: number; cursor?: string }) =>
    json<{ events: StoredEvent[]; next_cursor: string | null }>('GET', `${v1}/events`, { query }),

  analytics: (query: { from?: number; to?: number; bucket?: Bucket; asset_id?: number[] }) =>
    json<Analytics>('GET', `${v1}/analytics`, { query }),
  analyticsCsv: async (query: { from: number; to: number; bucket?: Bucket }) =>
    (await send('GET', `${v1}/analytics`, { query: { ...query, format: 'csv' }, accept: 'text/csv' })).blob(),
  stops: (query: { from: number; to: number; asset_id?: number[]; unassigned?: boolean }) =>
    json<Stop[]>('GET', `${v1}/stops`, { query }),
  /** The same stops as CSV (docs/API.md §9 has the columns). */
  stopsCsv: async (query: { from: number; to: number; asset_id?: number[]; unassigned?: boolean }) =>
    (await send('GET', `${v1}/stops`, { query: { ...query, format: 'csv' }, accept: 'text/csv' })).blob(),
  annotateStop: (id: string, reason_id: number | null, comment: string) =>
    json<void>('PUT', `${v1}/stops/${encodeURIComponent(id)}`, { body: { reason_id, comment } }),
  splitStop: (id: string, at: number) =>
    json<{ parts: string[] }>('POST', `${v1}/stops/${encodeURIComponent(id)}/split`, { body: { at } }),

  settings: () => json<Settings>('GET', `${v1}/settings`),
  updateSettings: (change: Partial<Settings>) => json<Settings>('PUT', `${v1}/settings`, { body: change }),
  /** The calendar that applies on a local day `YYYY-MM-DD` (default today). */
  shifts: (on?: string) => json<Shift[]>('GET', `${v1}/shifts`, { query: { on } }),
  /** Sets the calendar from a local day on (default today); the days before keep theirs. */
  setShifts: (shifts: Shift[], from?: string) => json<Shift[]>('PUT', `${v1}/shifts`, { body: shifts, query: { from } }),
  shiftCalendars: () => json<DatedShifts[]>('GET', `${v1}/shift-calendars`),
  /** The shift under way and the next one (the board's shift). */
  currentShift: () => json<CurrentShift>('GET', `${v1}/shifts/current`),
  timeline: (query: { from: number; to: number; asset_id?: number[] }) => json<Timeline>('GET', `${v1}/timeline`, { query }),
  plannedDowntime: () => json<PlannedDowntime[]>('GET', `${v1}/planned-downtime`),
  addPlannedDowntime: (d: PlannedDowntimeBody) =>
    json<PlannedDowntime>('POST', `${v1}/planned-downtime`, { body: d }),
  deletePlannedDowntime: (id: number) => json<void>('DELETE', `${v1}/planned-downtime/${id}`),
  reasons: () => json<Reason[]>('GET', `${v1}/reasons`),
  addReason: (category: string, name: string) => json<Reason>('POST', `${v1}/reasons`, { body: { category, name } }),
  updateReason: (id: number, change: { category?: string; name?: string }) =>
    json<Reason>('PUT', `${v1}/reasons/${id}`, { body: change }),
  deleteReason: (id: number) => json<void>('DELETE', `${v1}/reasons/${id}`),

  alertChannels: () => json<AlertChannel[]>('GET', `${v1}/alert-channels`),
  addAlertChannel: (c: AlertChannelBody) => json<AlertChannel>('POST', `${v1}/alert-channels`, { body: c }),
  updateAlertChannel: (id: number, c: AlertChannelBody) => json<AlertChannel>('PUT', `${v1}/alert-channels/${id}`, { body: c }),
  deleteAlertChannel: (id: number) => json<void>('DELETE', `${v1}/alert-channels/${id}`),
  testAlertChannel: (id: number) => json<ChannelTestResult>('POST', `${v1}/alert-channels/${id}/test`),
  alertRules: () => json<AlertRule[]>('GET', `${v1}/alert-rules`),
  addAlertRule: (r: AlertRuleBody) => json<AlertRule>('POST', `${v1}/alert-rules`, { body: r }),
  updateAlertRule: (id: number, r: AlertRuleBody) => json<AlertRule>('PUT', `${v1}/alert-rules/${id}`, { body: r }),
  deleteAlertRule: (id: number) => json<void>('DELETE', `${v1}/alert-rules/${id}`),
  /** Newest first. */
  alerts: (query: { state?: AlertState; from?: number; to?: number }) => json<Alert[]>('GET', `${v1}/alerts`, { query }),
  acknowledgeAlert: (id: number, comment?: string) =>
    json<Alert>('POST', `${v1}/alerts/${id}/ack`, { body: comment ? { comment } : {} }),
  alertDeliveries: (alert_id: number) => json<Delivery[]>('GET', `${v1}/alert-deliveries`, { query: { alert_id } }),

  reports: () => json<Report[]>('GET', `${v1}/reports`),
  addReport: (r: ReportBody) => json<Report>('POST', `${v1}/reports`, { body: r }),
  updateReport: (id: number, r: ReportBody) => json<Report>('PUT', `${v1}/reports/${id}`, { body: r }),
  deleteReport: (id: number) => json<void>('DELETE', `${v1}/reports/${id}`),
};

/** The live socket's URL for this page's origin. */
export function liveUrl(loc: { protocol: string; host: string }, t: string): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}${v1}/live?token=${encodeURIComponent(t)}`;
}

/** A message an error should show a person. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
