// Alerts: the open ones first (active, then acknowledged), live from the socket, which operators
// and admins acknowledge with an optional comment; the history of a period, filtered by state;
// and for one alert, each delivery to its channels. Viewers read. Rules and channels are under
// Settings.

import { useComputed } from '@preact/signals';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { DELIVERY_EVENT_WORDS, STATE_WORDS, historyFilter, orderOpen, stateParam, subjectOf, type Names } from '../alerts';
import { ApiError, api, type Alert } from '../api';
import { formatDuration } from '../format';
import { location, setQuery } from '../router';
import { canAnnotate, isAdmin, zone } from '../session';
import { alertBook, alertsError, board, now, onLive, onReconnect, refreshAlerts } from '../store';
import { PERIODS, formatDateTime, localDate, type PeriodKind } from '../time';
import { Confirm, Empty, ErrorNote, Loading, PeriodPicker, Table, periodWindow, useData, useTitle, type Period } from '../ui';
import { LiveStatus } from './board';

/** "for 12 min 04 s", ticking. */
function Elapsed({ since }: { since: number }) {
  const text = useComputed(() => formatDuration(now.value - since));
  return <>for {text}</>;
}

function AlertCell({ alert }: { alert: Alert }) {
  return (
    <th scope="row">
      {alert.rule_name}
      <br />
      <span class="hint">{alert.detail.text}</span>
    </th>
  );
}

function StateCell({ alert }: { alert: Alert }) {
  const tz = zone.value;
  return (
    <td>
      <span class={`alert-state ${alert.state}`}>{STATE_WORDS[alert.state]}</span>
      {alert.acknowledged_at !== null && (
        <span class="hint">
          <br />
          by {alert.acknowledged_by ?? 'someone'}, {formatDateTime(alert.acknowledged_at, tz)}
          {alert.ack_comment && (
            <>
              <br />“{alert.ack_comment}”
            </>
          )}
        </span>
      )}
      {alert.escalated_at !== null && (
        <span class="hint">
          <br />
          escalated {formatDateTime(alert.escalated_at, tz)}
        </span>
      )}
    </td>
  );
}

function DeliveriesButton({ alert, subject }: { alert: Alert; subject: string }) {
  const shown = location.value.query.get('alert') === String(alert.id);
  return (
    <button
      type="button"
      aria-pressed={shown}
      aria-controls={shown ? 'deliveries' : undefined}
      aria-label={`Deliveries of ${alert.rule_name} on ${subject}`}
      onClick={() => setQuery({ alert: shown ? undefined : String(alert.id) })}
    >
      Deliveries
    </button>
  );
}

function AckDialog({ alert, subject, onDone }: { alert: Alert | null; subject: string; onDone: () => void }) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    setComment('');
    setError(null);
    onDone();
  };
  return (
    <Confirm
      open={alert !== null}
      title="Acknowledge this alert"
      confirmLabel="Acknowledge"
      onCancel={close}
      onConfirm={async () => {
        if (!alert) return;
        setError(null);
        try {
          alertBook.apply(await api.acknowledgeAlert(alert.id, comment.trim() || undefined));
          close();
        } catch (err) {
          // Someone else was quicker: show it, and the row underneath catches up.
          if (err instanceof ApiError && err.code === 'already_acknowledged') void refreshAlerts();
          setError(err);
        }
      }}
    >
      {alert && (
        <>
          <p>
            {alert.rule_name} on {subject}: {alert.detail.text}. It stays open until the condition ends; acknowledging says someone is on
            it{alert.escalated_at === null ? ' and stops it from escalating' : ''}.
          </p>
          <label>
            Comment <span class="hint">(optional)</span>
            <textarea rows={3} maxLength={1000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          <ErrorNote error={error} />
        </>
      )}
    </Confirm>
  );
}

function OpenAlerts({ names }: { names: Names }) {
  const tz = zone.value;
  const list = orderOpen(alertBook.open.value.values());
  const mayAck = canAnnotate.value;
  const [acking, setAcking] = useState<Alert | null>(null);
  return (
    <section class="stack" aria-labelledby="open-title">
      <h2 id="open-title">Open alerts</h2>
      <ErrorNote error={alertsError.value} />
      {!alertBook.loaded.value && !alertsError.value && <Loading what="open alerts" />}
      {alertBook.loaded.value && list.length === 0 && (
        <p class="notice ok">
          No open alerts.{' '}
          {isAdmin.value ? (
            <>
              Rules under <a href="/settings#alert-rules">Settings</a> decide when one opens.
            </>
          ) : (
            'An admin sets the rules that open them.'
          )}
        </p>
      )}
      {list.length > 0 && (
        <Table id="open-alerts" caption="Open alerts: active first, then acknowledged, newest first" columns={['Alert', 'Machine', 'Since', 'State', { label: 'Actions', hidden: true }]}>
          {list.map((a) => {
            const subject = subjectOf(a, names);
            return (
              <tr key={a.id} data-alert-id={a.id} data-state={a.state}>
                <AlertCell alert={a} />
                <td>{subject}</td>
                <td>
                  {formatDateTime(a.since, tz)}
                  <br />
                  <span class="hint">
                    <Elapsed since={a.since} />
                  </span>
                </td>
                <StateCell alert={a} />
                <td>
                  <div class="row" style="flex-wrap:nowrap">
                    {mayAck && a.state === 'active' && (
                      <button type="button" class="primary" aria-label={`Acknowledge ${a.rule_name} on ${subject}`} onClick={() => setAcking(a)}>
                        Acknowledge
                      </button>
                    )}
                    <DeliveriesButton alert={a} subject={subject} />
                  </div>
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      {!mayAck && list.length > 0 && <p class="hint">You can read alerts; operators and admins acknowledge them.</p>}
      <AckDialog alert={acking} subject={acking ? subjectOf(acking, names) : ''} onDone={() => setAcking(null)} />
    </section>
  );
}

/**
 * Calls `reload` soon after an alert message (many in a burst make one), after a change of the
 * rules (deleting one clears its alerts silently), and on every reconnection.
 */
function useAlertRereads(reload: () => void, wanted: (alertId: number) => boolean = () => true) {
  const latest = useRef({ reload, wanted });
  latest.current = { reload, wanted };
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = onLive((m) => {
      if (timer) return;
      if (m.type === 'alert' ? !latest.current.wanted(m.alert.id) : m.type !== 'alert_config_changed') return;
      // Deliveries are written as the server sends them, a moment after the message.
      timer = setTimeout(() => {
        timer = null;
        latest.current.reload();
      }, 1000);
    });
    const offReconnect = onReconnect(() => latest.current.reload());
    return () => {
      off();
      offReconnect();
      if (timer) clearTimeout(timer);
    };
  }, []);
}

function historyPeriod(query: URLSearchParams, today: string): Period {
  const kind = (PERIODS.find((p) => p.kind === query.get('period'))?.kind ?? 'last_7') as PeriodKind;
  return { kind, from: query.get('from') ?? today, to: query.get('to') ?? today };
}

function History({ names, onLoaded }: { names: Names; onLoaded: (alerts: Alert[]) => void }) {
  const tz = zone.value;
  const query = location.value.query;
  const filter = historyFilter(query.get('state'));
  const period = historyPeriod(query, localDate(Date.now(), tz));
  const span = periodWindow(period, Date.now(), tz);
  const history = useData(
    () =>
      span
        ? api.alerts({ state: stateParam(filter), from: span.from, to: span.to })
        : Promise.reject(new Error('Choose a start date and an end date on or after it.')),
    [filter, span?.from, span?.to],
  );
  useAlertRereads(history.reload);
  useEffect(() => {
    if (history.data) onLoaded(history.data);
  }, [history.data]);
  const shown = history.error ? [] : (history.data ?? []);
  return (
    <section class="stack" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <form class="toolbar" style="margin:0" onSubmit={(e) => e.preventDefault()} aria-label="Which alerts the history shows">
        <label>
          State
          <select value={filter || 'any'} onChange={(e) => setQuery({ state: e.currentTarget.value === 'cleared' ? undefined : e.currentTarget.value })}>
            <option value="cleared">Cleared</option>
            <option value="active">Active</option>
            <option value="acknowledged">Acknowledged</option>
            <option value="any">Any state</option>
          </select>
        </label>
        <PeriodPicker
          value={period}
          onChange={(p) => setQuery({ period: p.kind, from: p.kind === 'custom' ? p.from : undefined, to: p.kind === 'custom' ? p.to : undefined })}
        />
      </form>
      <ErrorNote error={history.error} />
      {!history.data && !history.error && <Loading what="the alert history" />}
      {history.data && !history.error && shown.length === 0 && (
        <Empty title="No alerts in this period">
          <p>Try a longer period, or another state.</p>
        </Empty>
      )}
      {shown.length > 0 && (
        <Table
          id="alert-history"
          caption="Alert history, newest first"
          columns={['Alert', 'Machine', 'Since', 'Opened', 'State', 'Cleared', { label: 'Open for', num: true }, { label: 'Actions', hidden: true }]}
        >
          {shown.map((a) => {
            const subject = subjectOf(a, names);
            return (
              <tr key={a.id} data-alert-id={a.id} data-state={a.state}>
                <AlertCell alert={a} />
                <td>{subject}</td>
                <td>{formatDateTime(a.since, tz)}</td>
                <td>{formatDateTime(a.opened_at, tz)}</td>
                <StateCell alert={a} />
                <td>{a.cleared_at === null ? <span class="hint">still open</span> : formatDateTime(a.cleared_at, tz)}</td>
                <td class="num" style="white-space:nowrap">{a.cleared_at === null ? '—' : formatDuration(a.cleared_at - a.opened_at)}</td>
                <td>
                  <DeliveriesButton alert={a} subject={subject} />
                </td>
              </tr>
            );
          })}
        </Table>
      )}
    </section>
  );
}

function Deliveries({ alertId, alert, names }: { alertId: number; alert: Alert | undefined; names: Names }) {
  const tz = zone.value;
  const deliveries = useData(() => api.alertDeliveries(alertId), [alertId]);
  useAlertRereads(deliveries.reload, (id) => id === alertId);
  const heading = useRef<HTMLHeadingElement>(null);
  // Opened from a row's button, the section is elsewhere on the page: take the reader there (but
  // not on a reload of an address that names the alert).
  useLayoutEffect(() => {
    if (!document.activeElement?.closest('#open-alerts, #alert-history')) return;
    heading.current?.focus();
    heading.current?.scrollIntoView?.({ block: 'nearest' });
  }, [alertId]);
  const title = alert ? `Deliveries of ${alert.rule_name} on ${subjectOf(alert, names)}` : `Deliveries of alert ${alertId}`;
  const list = deliveries.data ?? [];
  return (
    <section class="card stack" id="deliveries" aria-labelledby="deliveries-title">
      <div class="row" style="justify-content:space-between;align-items:center">
        <h2 id="deliveries-title" ref={heading} tabIndex={-1} style="margin:0">
          {title}
        </h2>
        <div class="row">
          <button type="button" onClick={deliveries.reload}>
            Refresh
          </button>
          <button type="button" onClick={() => setQuery({ alert: undefined })}>
            Close
          </button>
        </div>
      </div>
      {alert && <p class="hint" style="margin:0">Opened {formatDateTime(alert.opened_at, tz)}: {alert.detail.text}</p>}
      <ErrorNote error={deliveries.error} />
      {!deliveries.data && !deliveries.error && <Loading what="deliveries" />}
      {deliveries.data && list.length === 0 && <p>Nothing was sent for this alert: its rule names no channel, or sending has not started yet.</p>}
      {list.length > 0 && (
        <Table caption={title} columns={['Channel', 'Event', 'Time', 'Result', { label: 'HTTP status', num: true }, 'Error']}>
          {list.map((d) => (
            <tr key={d.delivery_id} data-ok={d.ok}>
              <td>{d.channel_name}</td>
              <td>{DELIVERY_EVENT_WORDS[d.event]}</td>
              <td>{formatDateTime(d.at, tz)}</td>
              <td>
                <span class={`delivery ${d.ok ? 'ok' : 'failed'}`}>{d.ok ? 'Delivered' : 'Failed'}</span>
              </td>
              <td class="num">{d.status ?? '—'}</td>
              <td>{d.error ?? ''}</td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

export function Alerts() {
  useTitle('Alerts');
  const query = location.value.query;
  const assets = useData(() => api.assets(), []);
  const groups = board.groups.value;
  const names = useMemo<Names>(
    () => ({
      assets: new Map((assets.data ?? []).map((a) => [a.id, a.name])),
      loggers: new Map(groups.map((g) => [g.loggerId, g.name])),
    }),
    [assets.data, groups],
  );
  const [history, setHistory] = useState<Alert[]>([]);
  useEffect(() => void refreshAlerts(), []);
  const selected = Number(query.get('alert'));
  const alertId = Number.isInteger(selected) && selected > 0 ? selected : null;
  const alert = alertId === null ? undefined : (alertBook.open.value.get(alertId) ?? history.find((a) => a.id === alertId));
  return (
    <main id="main" class="stack">
      <div class="page-head" style="margin:0">
        <h1>Alerts</h1>
        <LiveStatus />
      </div>
      <ErrorNote error={assets.error} />
      <OpenAlerts names={names} />
      {alertId !== null && <Deliveries key={alertId} alertId={alertId} alert={alert} names={names} />}
      <History names={names} onLoaded={setHistory} />
    </main>
  );
}
