// Stops: every stop of a period, longest story first; operators and admins give each a reason
// and a comment, or split it where it turned into something else (waiting for material, then
// a tool change). Viewers read.

import { useMemo, useState } from 'preact/hooks';
import { api, type Reason, type Stop } from '../api';
import { formatDuration } from '../format';
import { location, setQuery } from '../router';
import { canAnnotate, isAdmin, zone } from '../session';
import { formatDateTime, formatTime, localDateTime, parseLocalDateTime } from '../time';
import { StaleNote, useLiveData } from '../follow';
import { now } from '../store';
import { Confirm, Empty, ErrorNote, Loading, PeriodPicker, Table, periodFromQuery, periodWindow, useData, useTitle } from '../ui';

function reasonLabel(r: Reason): string {
  return `${r.category}: ${r.name}`;
}

function StopRow({
  stop,
  asset,
  reasons,
  editable,
  onSaved,
  onSplit,
}: {
  stop: Stop;
  asset: string;
  reasons: Reason[];
  editable: boolean;
  onSaved: (reason_id: number | null, comment: string) => void;
  onSplit: (stop: Stop) => void;
}) {
  const tz = zone.value;
  const [reason, setReason] = useState(stop.reason_id?.toString() ?? '');
  const [comment, setComment] = useState(stop.comment);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const dirty = reason !== (stop.reason_id?.toString() ?? '') || comment !== stop.comment;
  const part = stop.start !== stop.stop_start ? ' (continued)' : '';
  const label = `${asset}, ${formatDateTime(stop.start, tz)}`;
  return (
    <tr data-stop-id={stop.id}>
      <th scope="row">
        {asset}
        {part && <span class="hint">{part}</span>}
      </th>
      <td>{formatDateTime(stop.start, tz)}</td>
      <td>{stop.ongoing ? <strong>ongoing</strong> : formatTime(stop.end, tz)}</td>
      {/* An ongoing stop grows while the page is open. */}
      <td class="num">{formatDuration(stop.ongoing ? Math.max(stop.duration_ms, now.value - stop.start) : stop.duration_ms)}</td>
      <td>{stop.short ? 'short' : 'long'}</td>
      <td>
        {editable ? (
          <select aria-label={`Reason for the stop of ${label}`} value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
            <option value="">— none —</option>
            {reasons.map((r) => (
              <option key={r.id} value={r.id}>
                {reasonLabel(r)}
              </option>
            ))}
          </select>
        ) : (
          (reasons.find((r) => r.id === stop.reason_id) && reasonLabel(reasons.find((r) => r.id === stop.reason_id)!)) ?? <span class="hint">none</span>
        )}
      </td>
      <td>
        {editable ? (
          <input aria-label={`Comment on the stop of ${label}`} maxLength={1000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
        ) : (
          stop.comment
        )}
      </td>
      {editable && (
        <td>
          <div class="row" style="flex-wrap:nowrap">
            <button
              type="button"
              class={dirty ? 'primary' : ''}
              disabled={!dirty}
              aria-label={`Save the stop of ${label}`}
              onClick={async () => {
                setError(null);
                try {
                  const reasonId = reason === '' ? null : Number(reason);
                  await api.annotateStop(stop.id, reasonId, comment.trim());
                  setComment(comment.trim());
                  setSaved(true);
                  onSaved(reasonId, comment.trim());
                } catch (err) {
                  setError(err);
                }
              }}
            >
              Save
            </button>
            <button type="button" aria-label={`Split the stop of ${label}`} onClick={() => onSplit(stop)} disabled={stop.duration_ms < 2000}>
              Split
            </button>
          </div>
          {saved && !dirty && (
            <span class="hint" role="status">
              Saved
            </span>
          )}
          <ErrorNote error={error} />
        </td>
      )}
    </tr>
  );
}

function SplitDialog({ stop, onDone, onCancel }: { stop: Stop | null; onDone: () => void; onCancel: () => void }) {
  const tz = zone.value;
  const [at, setAt] = useState('');
  const [error, setError] = useState<unknown>(null);
  const middle = stop ? localDateTime(stop.start + Math.floor(stop.duration_ms / 2), tz) : '';
  return (
    <Confirm
      open={stop !== null}
      title="Split this stop"
      confirmLabel="Split"
      onCancel={() => {
        setAt('');
        setError(null);
        onCancel();
      }}
      onConfirm={async () => {
        if (!stop) return;
        setError(null);
        try {
          await api.splitStop(stop.id, parseLocalDateTime(at || middle, tz));
          setAt('');
          onDone();
        } catch (err) {
          setError(err);
        }
      }}
    >
      {stop && (
        <>
          <p>
            From {formatDateTime(stop.start, tz)} to {stop.ongoing ? 'now' : formatDateTime(stop.end, tz)}. The part after the split gets its own reason.
          </p>
          <label>
            Split at ({tz})
            <input type="datetime-local" step={1} value={at || middle} onInput={(e) => setAt(e.currentTarget.value)} required />
          </label>
          <ErrorNote error={error} />
        </>
      )}
    </Confirm>
  );
}

export function Stops() {
  useTitle('Stops');
  const tz = zone.value;
  const query = location.value.query;
  const period = periodFromQuery(query, Date.now(), tz);
  const span = periodWindow(period, Date.now(), tz);
  const assetId = query.get('asset') ?? '';
  const longOnly = query.get('long') === '1';
  const unassigned = query.get('unassigned') === '1';
  const assets = useData(() => api.assets(), []);
  const reasons = useData(() => api.reasons(), []);
  const stops = useLiveData(
    () =>
      span
        ? api.stops({ from: span.from, to: span.to, asset_id: assetId ? [Number(assetId)] : undefined, unassigned: unassigned || undefined })
        : Promise.reject(new Error('Choose a start date and an end date on or after it.')),
    [span?.from, span?.to, assetId, unassigned],
    span !== null,
  );
  const [splitting, setSplitting] = useState<Stop | null>(null);
  const names = useMemo(() => new Map((assets.data ?? []).map((a) => [a.id, a.name])), [assets.data]);
  // Without a period (dates that make none) the last list would belong to another; through an
  // outage it is kept, marked stale.
  const shown = !span || (stops.error && !stops.stale) ? [] : (stops.data ?? []).filter((s) => !longOnly || !s.short);
  const editable = canAnnotate.value;
  return (
    <main id="main">
      <div class="page-head">
        <h1>Stops</h1>
      </div>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="What to show">
        <PeriodPicker
          value={period}
          onChange={(p) => setQuery({ period: p.kind, from: p.kind === 'custom' ? p.from : undefined, to: p.kind === 'custom' ? p.to : undefined })}
        />
        <label>
          Machine
          <select value={assetId} onChange={(e) => setQuery({ asset: e.currentTarget.value })}>
            <option value="">All machines</option>
            {(assets.data ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <input type="checkbox" checked={longOnly} onChange={(e) => setQuery({ long: e.currentTarget.checked ? '1' : undefined })} />
          Long stops only
        </label>
        <label class="inline">
          <input type="checkbox" checked={unassigned} onChange={(e) => setQuery({ unassigned: e.currentTarget.checked ? '1' : undefined })} />
          Without a reason only
        </label>
      </form>
      {editable && reasons.data && reasons.data.length === 0 && (
        <p class="notice">
          No downtime reasons yet.{' '}
          {isAdmin.value ? (
            <>
              Add them under <a href="/settings#reasons">Settings</a>, then give each stop its reason here.
            </>
          ) : (
            'Ask an admin to add them under Settings.'
          )}
        </p>
      )}
      {!editable && <p class="hint">You can read stops; operators and admins give them reasons.</p>}
      {stops.stale ? <StaleNote stale={stops.stale} loadedAt={stops.loadedAt} error={stops.error} /> : <ErrorNote error={stops.error ?? assets.error ?? reasons.error} />}
      {!stops.data && !stops.error && <Loading what="stops" />}
      {stops.data && span && !(stops.error && !stops.stale) && shown.length === 0 && (
        <Empty title="No stops in this period">
          <p>
            {assets.data && assets.data.length === 0 ? (
              <>
                No machine reports yet: connect a logger on the <a href="/loggers">Loggers</a> page.
              </>
            ) : (
              'Try a longer period, or clear the filters.'
            )}
          </p>
        </Empty>
      )}
      {shown.length > 0 && (
        <Table
          id="stops"
          class={stops.stale ? 'is-stale' : undefined}
          caption="Stops, newest first"
          columns={['Machine', 'Start', 'End', { label: 'Duration', num: true }, 'Kind', 'Reason', 'Comment', editable && 'Actions']}
        >
          {shown.map((s) => (
            <StopRow
              key={s.id}
              stop={s}
              asset={names.get(s.asset_id) ?? `Machine ${s.asset_id}`}
              reasons={reasons.data ?? []}
              editable={editable}
              onSaved={(reason_id, comment) => stops.setData((list) => list?.map((x) => (x.id === s.id ? { ...x, reason_id, comment } : x)) ?? null)}
              onSplit={setSplitting}
            />
          ))}
        </Table>
      )}
      <SplitDialog
        stop={splitting}
        onCancel={() => setSplitting(null)}
        onDone={() => {
          setSplitting(null);
          stops.reload();
        }}
      />
    </main>
  );
}
