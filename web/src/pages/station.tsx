// The station: a tablet beside a line. Each machine of the line (or all of them) shows how it is,
// its ongoing stop growing, and its stops of the last eight hours that have no reason yet, with
// the plant's reasons as big buttons grouped by category: one tap records the reason, and Undo
// takes it back for a few seconds. A long stop without a reason highlights its machine and is
// said aloud once ("Press 2 stopped 5 min ago: why?"). The page follows the live socket; viewers
// see the stops but no buttons. The line is in the address, so a tablet can be bookmarked on it.

import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, errorText, type Asset, type Reason, type Stop } from '../api';
import { formatDuration } from '../format';
import { StaleNote, useLiveData } from '../follow';
import { location, setQuery } from '../router';
import { canAnnotate, isAdmin, settings, zone } from '../session';
import {
  type Given,
  SHOWN_PER_MACHINE,
  byCategory,
  linesOf,
  longStopsToPrompt,
  machinesOf,
  needingReason,
  promptText,
  splitGiven,
  stationTime,
  stationWindow,
  stopElapsed,
  stopKey,
  summaryText,
  thresholdMs,
  undoSecondsLeft,
  wantsReason,
  withReason,
} from '../station';
import { now } from '../store';
import { Empty, ErrorNote, Loading, useTitle } from '../ui';
import { LiveStatus } from './board';

const STATE_WORDS = { RUNNING: 'Running', STOPPED: 'Stopped', UNKNOWN: 'No signal' } as const;
/** After a tap the machine's buttons rest a moment, so a double tap does not give the next stop the same reason. */
const REST_MS = 700;
/** How many reasons given the page remembers (for Undo and "recently given"). */
const REMEMBERED = 50;

/** The stop part a machine's buttons are for, as the operator chose it, and when. */
interface Choice {
  id: string;
  at: number;
}

interface StationData {
  assets: Asset[];
  reasons: Reason[];
  stops: Stop[];
}

async function load(line: string | null): Promise<StationData> {
  const [assets, reasons] = await Promise.all([api.assets(), api.reasons()]);
  const machines = machinesOf(assets, line);
  const stops = machines.length === 0 ? [] : await api.stops({ ...stationWindow(Date.now()), asset_id: line === null ? undefined : machines.map((m) => m.id) });
  return { assets, reasons, stops };
}

/** "Now, since 10:02 · 5 min 03 s" or "09:00–09:30 · 30 min 00 s · short". */
function stopWords(stop: Stop, t: number, tz: string): string {
  const part = stop.start !== stop.stop_start ? ' (continued)' : '';
  if (stop.ongoing) return `Now, since ${stationTime(stop.start, t, tz)}${part} · ${formatDuration(stopElapsed(stop, t))}`;
  return `${stationTime(stop.start, t, tz)}–${stationTime(stop.end, t, tz)}${part} · ${formatDuration(stop.duration_ms)}${stop.short ? ' · short' : ''}`;
}

function ReasonButtons({
  machine,
  stop,
  reasons,
  disabled,
  onPick,
}: {
  machine: string;
  stop: Stop;
  reasons: Reason[];
  disabled: boolean;
  onPick: (r: Reason) => void;
}) {
  const id = useId();
  const tz = zone.value;
  const categories = byCategory(reasons);
  const question = `Why did ${machine} stop at ${stationTime(stop.start, now.value, tz)}?`;
  return (
    <div role="group" aria-labelledby={`${id}-q`} class="station-why">
      <h3 id={`${id}-q`}>{question}</h3>
      {categories.length === 0 && (
        <p class="notice">
          No reasons to choose from yet.{' '}
          {isAdmin.value ? (
            <>
              Add them under <a href="/settings#reasons">Settings</a>.
            </>
          ) : (
            'Ask an admin to add them under Settings.'
          )}
        </p>
      )}
      {categories.map((c, i) => (
        <div key={c.category} role="group" aria-labelledby={`${id}-c${i}`} class="station-category">
          <p id={`${id}-c${i}`} class="station-category-name">
            {c.category}
          </p>
          <div class="station-reasons">
            {c.reasons.map((r) => (
              <button key={r.id} type="button" class="station-reason" disabled={disabled} onClick={() => onPick(r)}>
                {r.name}
              </button>
            ))}
          </div>
        </div>
      ))}
    </div>
  );
}

function MachineCard(props: {
  asset: Asset;
  showLine: boolean;
  stops: Stop[];
  open: Stop[];
  undoable: Given[];
  done: Given[];
  undoing: ReadonlySet<string>;
  reasons: Reason[];
  editable: boolean;
  highlighted: boolean;
  busy: boolean;
  error: string | null;
  selected: Choice | undefined;
  onSelect: (id: string) => void;
  onRecord: (stop: Stop, r: Reason) => void;
  onUndo: (g: Given) => void;
}) {
  const { asset, open, reasons, editable } = props;
  const headId = useId();
  const tz = zone.value;
  const t = now.value;
  const reasonName = (id: number | null) => reasons.find((r) => r.id === id)?.name ?? 'a reason';
  const current = props.stops.find((s) => s.ongoing);
  const shown = open.slice(0, SHOWN_PER_MACHINE);
  const more = open.length - shown.length;
  // The stop the operator chose, unless a stop has begun since: the newest question comes first.
  const sel = props.selected;
  const picked = sel && shown.find((s) => s.id === sel.id);
  const newer = sel && shown.find((s) => s.ongoing && s.stop_start > sel.at);
  const chosen = newer || picked || shown[0];
  const since = asset.since === null ? '' : ` · for ${formatDuration(t - asset.since)}`;
  const where = [asset.line, asset.area].filter(Boolean).join(' · ');
  return (
    <section
      class={`station-card${props.highlighted ? ' is-prompted' : ''}`}
      aria-labelledby={headId}
      data-asset-id={asset.id}
      data-prompted={props.highlighted ? 'true' : undefined}
    >
      <header class="station-card-head">
        <h2 id={headId}>{asset.name}</h2>
        <span class={`station-state ${asset.state.toLowerCase()}`}>
          {STATE_WORDS[asset.state]}
          {since}
        </span>
        {props.highlighted && <span class="station-flag">Needs a reason</span>}
        {props.showLine && where && <span class="hint station-where">{where}</span>}
      </header>
      {current && current.reason_id !== null && !props.undoable.some((g) => g.id === current.id) && (
        <p class="station-current">
          Stopped since {stationTime(current.stop_start, t, tz)} · {formatDuration(stopElapsed(current, t))} · reason: {reasonName(current.reason_id)}
        </p>
      )}
      {open.length === 0 && props.undoable.length === 0 && <p class="station-none">No stop needs a reason.</p>}
      {shown.length > 0 &&
        (editable && shown.length > 1 ? (
          <ul class="station-stops" aria-label={`Stops of ${asset.name} without a reason`}>
            {shown.map((s) => (
              <li key={s.id}>
                <button type="button" class="station-stop" aria-pressed={s === chosen} onClick={() => props.onSelect(s.id)}>
                  {stopWords(s, t, tz)}
                </button>
              </li>
            ))}
          </ul>
        ) : (
          <ul class="station-stops plain" aria-label={`Stops of ${asset.name} without a reason`}>
            {shown.map((s) => (
              <li key={s.id}>{stopWords(s, t, tz)}</li>
            ))}
          </ul>
        ))}
      {more > 0 && (
        <p class="hint">
          {more} more without a reason: on the <a href={`/stops?asset=${asset.id}&unassigned=1`}>Stops page</a>.
        </p>
      )}
      {editable && chosen && <ReasonButtons machine={asset.name} stop={chosen} reasons={reasons} disabled={props.busy} onPick={(r) => props.onRecord(chosen, r)} />}
      <div role="status" class="station-undo-list">
        {props.undoable.map((g) => (
          <p key={g.id} class="station-undo">
            <span>
              Recorded for the stop at {stationTime(g.start, t, tz)}: <strong>{reasonName(g.reason_id)}</strong>.
            </span>
            <button
              type="button"
              class="station-undo-button"
              aria-label={`Undo ${reasonName(g.reason_id)} for the stop at ${stationTime(g.start, t, tz)}`}
              disabled={props.undoing.has(g.id)}
              onClick={() => props.onUndo(g)}
            >
              Undo <span class="hint">({undoSecondsLeft(g, t)} s)</span>
            </button>
          </p>
        ))}
      </div>
      {props.error && (
        <p class="notice error" role="alert">
          {props.error}
        </p>
      )}
      {props.done.length > 0 && (
        <p class="hint station-recent">
          Recently given:{' '}
          {props.done
            .slice(0, 3)
            .map((g) => `${stationTime(g.start, t, tz)} ${reasonName(g.reason_id)}`)
            .join(' · ')}
        </p>
      )}
    </section>
  );
}

/** Per machine, something keyed by asset id (a saving flag, an error, the stop chosen). */
function useByMachine<T>() {
  const [map, setMap] = useState<ReadonlyMap<number, T>>(() => new Map());
  const set = (id: number, value: T | undefined) =>
    setMap((m) => {
      const next = new Map(m);
      if (value === undefined) next.delete(id);
      else next.set(id, value);
      return next;
    });
  return [map, set] as const;
}

export function Station() {
  const line = location.value.query.get('line') || null;
  useTitle(line ? `Station · ${line}` : 'Station');
  const data = useLiveData(() => load(line), [line]);
  const editable = canAnnotate.value;
  const t = now.value;
  const [given, setGiven] = useState<Given[]>([]);
  const [undoing, setUndoing] = useState<ReadonlySet<string>>(() => new Set());
  const [busy, setBusy] = useByMachine<true>();
  const [errors, setError] = useByMachine<string>();
  const [selected, setSelected] = useByMachine<Choice>();
  const prompted = useRef(new Set<string>());
  // Taps faster than a render: the machines whose reason is being recorded right now.
  const saving = useRef(new Set<number>());
  const [prompt, setPrompt] = useState<{ text: string; keys: string[] } | null>(null);

  const d = data.data;
  // An answer that failed without one kept through an outage shows nothing old.
  const usable = d !== null && !(data.error && !data.stale);
  const assets = d?.assets ?? [];
  const byId = new Map(assets.map((a) => [a.id, a]));
  const machines = machinesOf(assets, line);
  const stops = d?.stops ?? [];
  const tenantS = settings.value?.short_stop_threshold_s ?? 300;
  const thresholdOf = (id: number) => thresholdMs(byId.get(id), tenantS);
  const { undoable, done } = splitGiven(given, t);
  const held = new Set([...undoable.map((g) => g.id), ...undoing]);
  const needing = needingReason(stops, held);

  // Prompt once per long stop, when the page sees it reach its threshold (or finds it there).
  useEffect(() => {
    if (!d || data.stale) return;
    const due = longStopsToPrompt(d.stops, thresholdOf, now.peek(), prompted.current);
    if (due.length > 0) {
      for (const s of due) prompted.current.add(stopKey(s));
      const name = (id: number) => byId.get(id)?.name ?? `Machine ${id}`;
      // The clock of this moment: `now` ticks once a second and may be a second behind.
      setPrompt({ text: due.map((s) => promptText(name(s.asset_id), s.stop_start, Date.now())).join(' '), keys: due.map(stopKey) });
    } else if (prompt && !d.stops.some((s) => s.ongoing && s.reason_id === null && prompt.keys.includes(stopKey(s)))) {
      // Its stop has a reason now, or is over: nothing to ask any more.
      setPrompt(null);
    }
  }, [t, d, data.stale]);

  const record = async (stop: Stop, reason: Reason) => {
    if (saving.current.has(stop.asset_id)) return;
    saving.current.add(stop.asset_id);
    setBusy(stop.asset_id, true);
    setError(stop.asset_id, undefined);
    try {
      // The note is replaced whole: the part keeps the comment it has.
      await api.annotateStop(stop.id, reason.id, stop.comment);
      const g: Given = { id: stop.id, asset_id: stop.asset_id, start: stop.start, reason_id: reason.id, previous: stop.reason_id, comment: stop.comment, at: Date.now() };
      setGiven((list) => [g, ...list.filter((x) => x.id !== stop.id)].slice(0, REMEMBERED));
      data.setData((x) => (x ? { ...x, stops: withReason(x.stops, stop.id, reason.id) } : x));
      // A read under way began before the change: a new one replaces it.
      data.reload();
    } catch (e) {
      setError(stop.asset_id, `The reason was not recorded: ${errorText(e)}`);
    } finally {
      setTimeout(() => {
        saving.current.delete(stop.asset_id);
        setBusy(stop.asset_id, undefined);
      }, REST_MS);
    }
  };

  const undo = async (g: Given) => {
    setUndoing((s) => new Set(s).add(g.id));
    setError(g.asset_id, undefined);
    try {
      await api.annotateStop(g.id, g.previous, g.comment);
      setGiven((list) => list.filter((x) => x !== g));
      data.setData((x) => (x ? { ...x, stops: withReason(x.stops, g.id, g.previous) } : x));
      setSelected(g.asset_id, { id: g.id, at: Date.now() });
      data.reload();
    } catch (e) {
      setError(g.asset_id, `The reason could not be taken back: ${errorText(e)}`);
    } finally {
      setUndoing((s) => {
        const next = new Set(s);
        next.delete(g.id);
        return next;
      });
    }
  };

  const lines = linesOf(assets);
  if (line && !lines.includes(line)) lines.push(line);
  const open = (id: number) => needing.filter((s) => s.asset_id === id && !held.has(s.id));
  const waiting = machines.reduce((n, m) => n + open(m.id).length, 0);

  return (
    <main id="main" class="station">
      <div class="page-head">
        <h1>{line ? `Station · ${line}` : 'Station'}</h1>
        <LiveStatus />
      </div>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="Which machines">
        <label>
          Machines
          <select class="station-pick" value={line ?? ''} onChange={(e) => setQuery({ line: e.currentTarget.value })}>
            <option value="">All machines</option>
            {lines.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
      </form>
      <p id="station-prompt" class="station-prompt" aria-live="assertive" aria-atomic="true">
        {prompt?.text ?? ''}
      </p>
      {!editable && <p class="hint station-viewer">You can see the stops here; operators and admins give them reasons.</p>}
      {data.stale ? <StaleNote stale={data.stale} loadedAt={data.loadedAt} error={data.error} /> : <ErrorNote error={data.error} />}
      {!d && !data.error && <Loading what="the machines" />}
      {usable && assets.length === 0 && (
        <Empty title="No machines yet">
          <p>
            Machines appear here when their logger reports: see the <a href="/loggers">Loggers</a> page.
          </p>
        </Empty>
      )}
      {usable && assets.length > 0 && machines.length === 0 && (
        <Empty title={`No machines on ${line}`}>
          <p>Choose another line above, or all machines. An admin names each machine's line on the Loggers page.</p>
        </Empty>
      )}
      {usable && machines.length > 0 && (
        <>
          <p class="station-summary" data-testid="station-summary">
            {summaryText(waiting, machines.map((m) => m.state))}
          </p>
          <div class={`station-cards${data.stale ? ' is-stale' : ''}`}>
            {machines.map((m) => {
              const own = stops.filter((s) => s.asset_id === m.id);
              return (
                <MachineCard
                  key={m.id}
                  asset={m}
                  showLine={line === null}
                  stops={own}
                  open={open(m.id)}
                  undoable={undoable.filter((g) => g.asset_id === m.id)}
                  done={done.filter((g) => g.asset_id === m.id)}
                  undoing={undoing}
                  reasons={d.reasons}
                  editable={editable}
                  highlighted={wantsReason(own, thresholdOf, t)}
                  busy={busy.has(m.id)}
                  error={errors.get(m.id) ?? null}
                  selected={selected.get(m.id)}
                  onSelect={(id) => setSelected(m.id, { id, at: Date.now() })}
                  onRecord={(s, r) => void record(s, r)}
                  onUndo={(g) => void undo(g)}
                />
              );
            })}
          </div>
        </>
      )}
    </main>
  );
}
