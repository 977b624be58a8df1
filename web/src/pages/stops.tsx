// Stops: every stop of a period, newest first (or by start or duration, either way); operators
// and admins give each a reason and a comment, several stops one reason at once, or split a stop
// where it turned into something else (waiting for material, then a tool change). Viewers read.
// Everyone can take the period's stops away as CSV. On a phone each stop is a card (styles.css).

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, errorText, type Reason, type Stop } from '../api';
import { saveFile } from '../download';
import { formatDuration } from '../format';
import { location, setQuery } from '../router';
import { canAnnotate, isAdmin, zone } from '../session';
import { sortHeader } from '../sort-header';
import {
  NEWEST_FIRST,
  type StopSort,
  allShownBox,
  longStopsCsv,
  pickedStops,
  reasonOutcome,
  settleEach,
  shownDuration,
  sortStops,
  sortWords,
  stopCount,
  stopLabel,
  stopsCsvName,
  withPicks,
} from '../stops';
import { formatDateTime, formatTime } from '../time';
import { EMPTY, type LocalDateTime, instantOf, localParts } from '../datetime';
import { DateTimeInput } from '../datetime-input';
import { StaleNote, useLiveData } from '../follow';
import { now } from '../store';
import { Confirm, Empty, ErrorNote, Loading, PeriodPicker, Table, type Column, periodFromQuery, periodWindow, useData, useTitle } from '../ui';

/** How many stops get their reason at the same time when several are given one. */
const AT_ONCE = 4;

function reasonLabel(r: Reason): string {
  return `${r.category}: ${r.name}`;
}

function ReasonOptions({ reasons }: { reasons: Reason[] }) {
  return (
    <>
      {reasons.map((r) => (
        <option key={r.id} value={r.id}>
          {reasonLabel(r)}
        </option>
      ))}
    </>
  );
}

function StopRow({
  stop,
  asset,
  reasons,
  editable,
  picked,
  onPick,
  onSaved,
  onSplit,
}: {
  stop: Stop;
  asset: string;
  reasons: Reason[];
  editable: boolean;
  picked: boolean;
  onPick: (on: boolean) => void;
  onSaved: (reason_id: number | null, comment: string) => void;
  onSplit: (stop: Stop) => void;
}) {
  const tz = zone.value;
  const storedReason = stop.reason_id?.toString() ?? '';
  const [reason, setReason] = useState(storedReason);
  const [comment, setComment] = useState(stop.comment);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const saving = useRef(false);
  // What is stored changes under the row (a re-read, a reason given to several stops at once):
  // a field the operator has not touched shows it, one being edited keeps the edit.
  const stored = useRef({ reason: storedReason, comment: stop.comment });
  useEffect(() => {
    const before = stored.current;
    stored.current = { reason: storedReason, comment: stop.comment };
    setReason((r) => (r === before.reason ? storedReason : r));
    setComment((c) => (c === before.comment ? stop.comment : c));
  }, [storedReason, stop.comment]);
  const changed = (r: string, c: string) => r !== storedReason || c !== stop.comment;
  const dirty = changed(reason, comment);
  const part = stop.start !== stop.stop_start ? ' (continued)' : '';
  const label = stopLabel(asset, stop.start, tz);
  const save = async (r: string, c: string) => {
    if (saving.current) return;
    saving.current = true;
    setError(null);
    try {
      const reasonId = r === '' ? null : Number(r);
      await api.annotateStop(stop.id, reasonId, c.trim());
      setComment(c.trim());
      setSaved(true);
      onSaved(reasonId, c.trim());
    } catch (err) {
      setError(err);
    } finally {
      saving.current = false;
    }
  };
  // Enter in the comment or on the reason saves the row, as its Save button does.
  const saveOnEnter = (e: KeyboardEvent, r: string, c: string) => {
    if (e.key !== 'Enter' || e.isComposing) return;
    e.preventDefault();
    if (changed(r, c)) void save(r, c);
  };
  return (
    <tr data-stop-id={stop.id} class={picked ? 'is-picked' : undefined}>
      {editable && (
        <td class="stop-pick">
          <input type="checkbox" aria-label={`Select the stop of ${label}`} checked={picked} onChange={(e) => onPick(e.currentTarget.checked)} />
        </td>
      )}
      <th scope="row" class="stop-machine">
        {asset}
        {part && <span class="hint">{part}</span>}
      </th>
      <td class="stop-start">{formatDateTime(stop.start, tz)}</td>
      <td class="stop-end">{stop.ongoing ? <strong>ongoing</strong> : formatTime(stop.end, tz)}</td>
      {/* An ongoing stop grows while the page is open. */}
      <td class="num stop-duration">{formatDuration(stop.ongoing ? shownDuration(stop, now.value) : stop.duration_ms)}</td>
      <td class="stop-kind">{stop.short ? 'short' : 'long'}</td>
      <td class="stop-reason" data-label="Reason">
        {editable ? (
          <select
            aria-label={`Reason for the stop of ${label}`}
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            onKeyDown={(e) => saveOnEnter(e, e.currentTarget.value, comment)}
          >
            <option value="">— none —</option>
            <ReasonOptions reasons={reasons} />
          </select>
        ) : (
          (reasons.find((r) => r.id === stop.reason_id) && reasonLabel(reasons.find((r) => r.id === stop.reason_id)!)) ?? <span class="hint">none</span>
        )}
      </td>
      <td class="stop-comment" data-label="Comment">
        {editable ? (
          <input
            aria-label={`Comment on the stop of ${label}`}
            maxLength={1000}
            value={comment}
            onInput={(e) => setComment(e.currentTarget.value)}
            onKeyDown={(e) => saveOnEnter(e, reason, e.currentTarget.value)}
          />
        ) : (
          stop.comment
        )}
      </td>
      {editable && (
        <td class="stop-actions">
          <div class="row" style="flex-wrap:nowrap">
            <button
              type="button"
              class={dirty ? 'primary' : ''}
              disabled={!dirty}
              aria-label={`Save the stop of ${label}`}
              onClick={() => void save(reason, comment)}
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

type Outcome = ReturnType<typeof reasonOutcome>;

/**
 * The bar that gives every picked stop one reason, each keeping its own comment, and what it
 * says afterwards (which stays when the bar goes with the picks).
 */
function GiveReason({
  picked,
  reasons,
  names,
  outcome,
  onOutcome,
  onApplied,
  onClear,
}: {
  picked: Stop[];
  reasons: Reason[];
  names: Map<number, string>;
  outcome: Outcome | null;
  onOutcome: (o: Outcome | null) => void;
  onApplied: (given: string[], reason_id: number, failed: string[]) => void;
  onClear: () => void;
}) {
  const tz = zone.value;
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const status = useRef<HTMLDivElement>(null);
  const n = picked.length;
  const apply = async () => {
    if (reason === '' || busy || n === 0) return;
    const reasonId = Number(reason);
    const targets = picked;
    setBusy(true);
    onOutcome(null);
    const results = await settleEach(targets, AT_ONCE, (s) => api.annotateStop(s.id, reasonId, s.comment));
    setBusy(false);
    const given = targets.filter((_, i) => results[i]!.ok);
    const failed = targets.flatMap((s, i) => {
      const r = results[i]!;
      return r.ok ? [] : [{ stop: s, why: errorText(r.error) }];
    });
    onApplied(
      given.map((s) => s.id),
      reasonId,
      failed.map((f) => f.stop.id),
    );
    onOutcome(reasonOutcome(given.length, failed.map((f) => ({ label: stopLabel(names.get(f.stop.asset_id) ?? `Machine ${f.stop.asset_id}`, f.stop.start, tz), why: f.why }))));
    // The bar (and the button that had focus) goes with the picks: focus what it says instead.
    if (failed.length === 0) status.current?.focus();
  };
  return (
    <>
      {n > 0 && (
        <form
          class="give-reason"
          aria-label="Give the selected stops a reason"
          onSubmit={(e) => {
            e.preventDefault();
            void apply();
          }}
        >
          <label>
            Reason for the selected stops
            <select value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
              <option value="">Choose a reason</option>
              <ReasonOptions reasons={reasons} />
            </select>
          </label>
          <button type="submit" class="primary" disabled={reason === '' || busy}>
            {busy ? `Giving the reason to ${stopCount(n)}…` : `Apply to ${stopCount(n)}`}
          </button>
          <button type="button" onClick={onClear} disabled={busy}>
            Clear selection
          </button>
        </form>
      )}
      <div role="status" tabIndex={-1} ref={status} class="give-status">
        {outcome?.given && <p class="notice ok">{outcome.given}</p>}
      </div>
      {outcome?.failed && (
        <div class="notice error give-problem" role="alert">
          <p>{outcome.failed.title}</p>
          <ul>
            {outcome.failed.items.map((item) => (
              <li key={item}>{item}</li>
            ))}
          </ul>
        </div>
      )}
    </>
  );
}

function SplitDialog({ stop, onDone, onCancel }: { stop: Stop | null; onDone: () => void; onCancel: () => void }) {
  const tz = zone.value;
  // null: the middle of the stop, proposed until the operator types another time.
  const [at, setAt] = useState<LocalDateTime | null>(null);
  const [error, setError] = useState<unknown>(null);
  const middle = stop ? localParts(stop.start + Math.floor(stop.duration_ms / 2000) * 1000, tz) : EMPTY;
  const shown = at ?? middle;
  return (
    <Confirm
      open={stop !== null}
      title="Split this stop"
      confirmLabel="Split"
      onCancel={() => {
        setAt(null);
        setError(null);
        onCancel();
      }}
      onConfirm={async () => {
        if (!stop) return;
        setError(null);
        try {
          await api.splitStop(stop.id, instantOf(shown, tz, 'Split at', true));
          setAt(null);
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
          <DateTimeInput name="Split at" legend={`Split at (${tz})`} seconds required value={shown} onChange={setAt} />
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
  const question = span ? { from: span.from, to: span.to, asset_id: assetId ? [Number(assetId)] : undefined, unassigned: unassigned || undefined } : null;
  const stops = useLiveData(
    () => (question ? api.stops(question) : Promise.reject(new Error('Choose a start date and an end date on or after it.'))),
    [span?.from, span?.to, assetId, unassigned],
    span !== null,
  );
  const [splitting, setSplitting] = useState<Stop | null>(null);
  const [sort, setSort] = useState<StopSort>(NEWEST_FIRST);
  // Picked stops by id, so that the picks outlive a re-read of the list.
  const [picks, setPicks] = useState<ReadonlySet<string>>(() => new Set());
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [csvError, setCsvError] = useState<unknown>(null);
  const names = useMemo(() => new Map((assets.data ?? []).map((a) => [a.id, a.name])), [assets.data]);
  // Without a period (dates that make none) the last list would belong to another; through an
  // outage it is kept, marked stale.
  const shown = !span || (stops.error && !stops.stale) ? [] : (stops.data ?? []).filter((s) => !longOnly || !s.short);
  // Only an ongoing stop's duration changes between reads: the clock matters when sorting by it.
  const rows = sortStops(shown, sort, sort.key === 'duration' && shown.some((s) => s.ongoing) ? now.value : 0);
  const picked = pickedStops(rows, picks);
  const editable = canAnnotate.value;
  const pick = (ids: string[], on: boolean) => {
    setPicks((p) => withPicks(p, ids, on));
    setOutcome(null);
  };
  const box = allShownBox(rows, picks);
  const pickAll: Column = {
    label: (
      <label class="inline pick-all">
        <input type="checkbox" checked={box.checked} indeterminate={box.indeterminate} onChange={(e) => pick(rows.map((s) => s.id), e.currentTarget.checked)} />
        <span class="pick-all-text">Select all shown stops</span>
      </label>
    ),
  };
  const downloadCsv = async () => {
    if (!span || !question) return;
    setCsvError(null);
    try {
      const blob = await api.stopsCsv(question);
      const csv = longOnly ? new Blob([longStopsCsv(await blob.text())], { type: 'text/csv' }) : blob;
      saveFile(csv, stopsCsvName(span, tz));
    } catch (err) {
      setCsvError(err);
    }
  };
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
        <button type="button" disabled={!span} onClick={() => void downloadCsv()}>
          Download CSV
        </button>
      </form>
      <ErrorNote error={csvError} />
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
      {editable && (
        <GiveReason
          picked={picked}
          reasons={reasons.data ?? []}
          names={names}
          outcome={outcome}
          onOutcome={setOutcome}
          onClear={() => pick(picked.map((s) => s.id), false)}
          onApplied={(given, reason_id, failed) => {
            const ids = new Set(given);
            stops.setData((list) => list?.map((x) => (ids.has(x.id) ? { ...x, reason_id } : x)) ?? null);
            setPicks(new Set(failed));
          }}
        />
      )}
      {rows.length > 0 && (
        <Table
          id="stops"
          class={stops.stale ? 'is-stale' : undefined}
          caption={`Stops, ${sortWords(sort)}; the column buttons sort the table.`}
          columns={[
            editable && pickAll,
            'Machine',
            sortHeader(sort, setSort, 'start', 'Start', { first: -1 }),
            'End',
            sortHeader(sort, setSort, 'duration', 'Duration', { num: true }),
            'Kind',
            'Reason',
            'Comment',
            editable && 'Actions',
          ]}
        >
          {rows.map((s) => (
            <StopRow
              key={s.id}
              stop={s}
              asset={names.get(s.asset_id) ?? `Machine ${s.asset_id}`}
              reasons={reasons.data ?? []}
              editable={editable}
              picked={picks.has(s.id)}
              onPick={(on) => pick([s.id], on)}
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
