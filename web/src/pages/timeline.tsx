// Timeline: a Gantt of each machine's states over one local day, from the same history as the
// figures (`GET /api/v1/timeline`): states inside planned time, planned downtime and time not
// scheduled drawn apart, an offline logger's time unknown, the shifts marked. It follows the live
// socket. The mouse wheel zooms about the pointer (Shift + wheel or a sideways swipe pans),
// dragging across the chart zooms to that span, double-click resets; the buttons do the same from
// the keyboard. Hovering a span shows its start, end, duration and, for a stop, its reason.
// Operators and admins give a stop its reason by clicking its bar, or from the keyboard with the
// list's buttons (reason-dialog.tsx).

import { useRef, useState } from 'preact/hooks';
import { api, type Asset, type Reason, type Stop, type Timeline as TimelineData } from '../api';
import { UChart, timeAxis, uPlot, zonedTime } from '../charts';
import { formatDuration } from '../format';
import { location, setQuery } from '../router';
import { ReasonDialog, type ReasonTarget, reasonTitle } from '../reason-dialog';
import { canAnnotate, zone } from '../session';
import { partAt, partsUnder } from '../stop-reason';
import { stopLabel } from '../stops';
import { formatDateTime, formatTime, localDate, localDaySpan, shiftSpan, weekdayOf } from '../time';
import { StaleNote, useLiveData } from '../follow';
import { type Paint, type Segment, paint, pan, segmentAt, wheelFactor, zoom, zoomAt } from '../timeline';
import { Empty, ErrorNote, Loading, Table, useData, useTitle } from '../ui';

const FILL: Record<Paint, string> = {
  RUNNING: '#1a7f37',
  STOPPED: '#c62828',
  UNKNOWN: '#8c959f',
  DOWNTIME: '#7b93db',
  UNSCHEDULED: '#d8dee4',
};
const WORD: Record<Paint, string> = {
  RUNNING: 'Running',
  STOPPED: 'Stopped',
  UNKNOWN: 'Unknown',
  DOWNTIME: 'Planned downtime',
  UNSCHEDULED: 'Not scheduled',
};
/** Time not planned is drawn as a thin bar: the eye reads the planned time first. */
const THIN: Partial<Record<Paint, boolean>> = { UNSCHEDULED: true, DOWNTIME: true };
const MAX_ROWS = 40;
/** A click on a bar waits this long for a second one: a double-click resets the zoom instead. */
const DOUBLE_CLICK_MS = 300;
/** A press that moves further than this (CSS px) is a drag across the chart, not a click. */
const CLICK_SLOP = 4;

interface Row {
  asset: Asset;
  segments: Segment[];
  stops: Stop[];
}

async function load(assetFilter: string, from: number, to: number): Promise<{ rows: Row[]; reasons: Reason[]; more: number; shifts: TimelineData['shifts'] }> {
  const [assets, reasons] = await Promise.all([api.assets(), api.reasons()]);
  const chosen = assetFilter ? assets.filter((a) => String(a.id) === assetFilter) : assets;
  const shown = chosen.slice(0, MAX_ROWS);
  if (!shown.length) return { rows: [], reasons, more: 0, shifts: [] };
  const ids = shown.map((a) => a.id);
  const [timeline, stops] = await Promise.all([api.timeline({ from, to, asset_id: ids }), api.stops({ from, to, asset_id: ids })]);
  const byId = new Map(timeline.assets.map((a) => [a.asset_id, a]));
  const rows = shown.map((asset) => {
    const t = byId.get(asset.id);
    return { asset, segments: t ? paint(t.states, t.planned, t.downtime) : [], stops: stops.filter((s) => s.asset_id === asset.id) };
  });
  return { rows, reasons, more: chosen.length - shown.length, shifts: timeline.shifts };
}

function reasonText(part: Stop, reasons: Reason[]): string {
  const reason = reasons.find((r) => r.id === part.reason_id);
  return reason ? `${reason.category}: ${reason.name}` : 'no reason yet';
}

function describe(row: Row, seg: Segment, reasons: Reason[], tz: string, editable: boolean): string {
  const lines = [
    `${row.asset.name}: ${WORD[seg.state]}`,
    `${formatDateTime(seg.start, tz)} – ${formatTime(seg.end, tz)}`,
    formatDuration(seg.end - seg.start),
  ];
  if (seg.state === 'STOPPED') {
    const parts = partsUnder(row.stops, seg.start, seg.end);
    for (const p of parts) {
      lines.push(`${parts.length > 1 ? `from ${formatTime(p.start, tz)}: ` : ''}${reasonText(p, reasons)}${p.comment ? ` (${p.comment})` : ''}`);
    }
    if (editable && parts.length > 0) lines.push('Click to give it a reason');
  }
  return lines.join('\n');
}

/** The stop part under a point of the chart (CSS px inside its plotting area), if it is on a stopped bar. */
function pickAt(u: uPlot, rows: Row[], left: number, top: number): { row: Row; part: Stop } | null {
  const i = Math.floor(top / (u.over.clientHeight / Math.max(1, rows.length)));
  const row = rows[i];
  const t = u.posToVal(left, 'x');
  const seg = row && segmentAt(row.segments, t);
  if (!row || seg?.state !== 'STOPPED') return null;
  const part = partAt(row.stops, t);
  return part ? { row, part } : null;
}

function Gantt({
  rows,
  reasons,
  shifts,
  from,
  to,
  stale,
  onPick,
}: {
  rows: Row[];
  reasons: Reason[];
  shifts: TimelineData['shifts'];
  from: number;
  to: number;
  stale: boolean;
  /** Operators and admins: a stop part picked to give a reason (from its bar or the list). */
  onPick?: (row: Row, part: Stop) => void;
}) {
  const tz = zone.value;
  const editable = onPick !== undefined;
  const chart = useRef<uPlot | null>(null);
  const tip = useRef<HTMLDivElement>(null);
  const n = rows.length;
  // What the x axis shows now, said in words beside the buttons (null: the whole span).
  const [view, setView] = useState<{ min: number; max: number } | null>(null);
  // The zoom, kept across the re-reads that follow the live socket (they build the chart again), for this day only.
  const kept = useRef<{ day: number; min: number; max: number } | null>(null);
  const shown = view ?? { min: from, max: to };
  const move = (f: (v: { min: number; max: number }) => { min: number; max: number }) => {
    const u = chart.current;
    if (!u) return;
    const x = u.scales.x;
    u.setScale('x', f({ min: x?.min ?? from, max: x?.max ?? to }));
  };
  const onWheel = (u: uPlot, e: WheelEvent) => {
    const x = u.scales.x;
    const current = { min: x?.min ?? from, max: x?.max ?? to };
    const sideways = e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY);
    const next = sideways
      ? pan(current, (e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX) / Math.max(1, u.over.clientWidth), from, to)
      : zoomAt(current, wheelFactor(e.deltaY, e.deltaMode), u.posToVal(e.clientX - u.over.getBoundingClientRect().left, 'x'), from, to);
    // At the end of the road (all of the day, or a minute) the wheel scrolls the page again.
    if (next.min === current.min && next.max === current.max) return;
    e.preventDefault();
    u.setScale('x', next);
  };
  return (
    <section class={stale ? 'chart is-stale' : 'chart'} aria-labelledby="gantt-title" style="position:relative">
      <h2 id="gantt-title" class="visually-hidden">
        States over time
      </h2>
      <div class="row" role="group" aria-label="Zoom and pan" style="margin-bottom:0.5rem">
        <button type="button" onClick={() => move((v) => pan(v, -0.25, from, to))}>
          ← Earlier
        </button>
        <button type="button" onClick={() => move((v) => pan(v, 0.25, from, to))}>
          Later →
        </button>
        <button type="button" onClick={() => move((v) => zoom(v, 0.5, from, to))}>
          Zoom in
        </button>
        <button type="button" onClick={() => move((v) => zoom(v, 2, from, to))}>
          Zoom out
        </button>
        <button type="button" onClick={() => move(() => ({ min: from, max: to }))}>
          Show all
        </button>
        <span class="hint">Wheel over the chart to zoom, Shift + wheel to pan, drag across it to zoom to a span; double-click to reset.</span>
      </div>
      <p class="hint gantt-range" id="gantt-range" aria-live="polite" data-from={shown.min} data-to={shown.max}>
        Showing {formatDateTime(shown.min, tz)} – {formatDateTime(shown.max, tz)} ({formatDuration(shown.max - shown.min)})
      </p>
      <UChart
        label="Gantt chart of machine states; the list below has the same spans"
        height={Math.max(120, n * 34 + 48)}
        deps={[rows, reasons, shifts, from, to, tz, editable]}
        onReady={(u) => {
          chart.current = u;
          if (u && kept.current?.day === from) u.setScale('x', { min: kept.current.min, max: kept.current.max });
          else setView(null);
        }}
        build={() => ({
          options: {
            ...zonedTime(tz),
            legend: { show: false },
            cursor: { y: false, points: { show: false }, drag: { x: true, y: false, setScale: true } },
            scales: { x: { time: true, range: (_u, min, max) => [Math.max(from, min), Math.min(to, max)] }, y: { range: [0, Math.max(1, n)] } },
            series: [{}, { show: true, stroke: 'transparent', points: { show: false }, paths: () => null }],
            axes: [
              timeAxis(tz, to - from),
              {
                splits: () => rows.map((_, i) => n - i - 0.5),
                values: (_u, splits) => splits.map((v) => rows[n - 0.5 - v]?.asset.name ?? ''),
                grid: { show: false },
                size: 110,
              },
            ],
            hooks: {
              ready: [
                (u: uPlot) => {
                  u.over.addEventListener('wheel', (e) => onWheel(u, e), { passive: false });
                  if (!onPick) return;
                  // A click on a stopped bar opens its reason; a drag (zoom) or a double-click (reset) does not.
                  let down: { x: number; y: number } | null = null;
                  let pending: ReturnType<typeof setTimeout> | null = null;
                  u.over.addEventListener('mousedown', (e) => (down = { x: e.clientX, y: e.clientY }));
                  u.over.addEventListener('click', (e) => {
                    if (pending) clearTimeout(pending);
                    pending = null;
                    const moved = down ? Math.hypot(e.clientX - down.x, e.clientY - down.y) : 0;
                    if (e.detail > 1 || moved > CLICK_SLOP) return;
                    const box = u.over.getBoundingClientRect();
                    const picked = pickAt(u, rows, e.clientX - box.left, e.clientY - box.top);
                    if (!picked) return;
                    pending = setTimeout(() => {
                      pending = null;
                      onPick(picked.row, picked.part);
                    }, DOUBLE_CLICK_MS);
                  });
                  u.over.addEventListener('dblclick', () => {
                    if (pending) clearTimeout(pending);
                    pending = null;
                  });
                },
              ],
              setScale: [
                (u: uPlot, key: string) => {
                  const x = u.scales.x;
                  if (key !== 'x' || x?.min == null || x.max == null) return;
                  const whole = x.min <= from && x.max >= to;
                  kept.current = whole ? null : { day: from, min: x.min, max: x.max };
                  setView(whole ? null : { min: x.min, max: x.max });
                },
              ],
              draw: [
                (u: uPlot) => {
                  const ctx = u.ctx;
                  ctx.save();
                  ctx.beginPath();
                  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
                  ctx.clip();
                  rows.forEach((row, i) => {
                    const y0 = u.valToPos(n - i, 'y', true);
                    const y1 = u.valToPos(n - i - 1, 'y', true);
                    const pad = (y1 - y0) * 0.15;
                    const thin = (y1 - y0) * 0.38;
                    for (const seg of row.segments) {
                      const x0 = u.valToPos(seg.start, 'x', true);
                      const x1 = u.valToPos(seg.end, 'x', true);
                      const inset = THIN[seg.state] ? thin : pad;
                      ctx.fillStyle = FILL[seg.state];
                      ctx.fillRect(x0, y0 + inset, Math.max(1, x1 - x0), y1 - y0 - 2 * inset);
                    }
                  });
                  // Shift starts and ends: dashed lines, the shift's name at its start.
                  ctx.strokeStyle = '#57606a';
                  ctx.fillStyle = '#24292f';
                  ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
                  ctx.lineWidth = devicePixelRatio;
                  ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
                  ctx.textBaseline = 'top';
                  ctx.textAlign = 'left';
                  for (const shift of shifts) {
                    for (const t of [shift.start, shift.end]) {
                      if (t < from || t > to) continue;
                      const x = Math.round(u.valToPos(t, 'x', true)) + 0.5;
                      ctx.beginPath();
                      ctx.moveTo(x, u.bbox.top);
                      ctx.lineTo(x, u.bbox.top + u.bbox.height);
                      ctx.stroke();
                    }
                    const label = Math.max(from, shift.start);
                    if (label < to) ctx.fillText(shift.name, u.valToPos(label, 'x', true) + 3 * devicePixelRatio, u.bbox.top + 2 * devicePixelRatio);
                  }
                  ctx.restore();
                },
              ],
              setCursor: [
                (u: uPlot) => {
                  const el = tip.current;
                  if (!el) return;
                  const { left, top } = u.cursor;
                  if (left === undefined || top === undefined || left < 0 || top < 0) {
                    el.hidden = true;
                    u.over.style.cursor = '';
                    return;
                  }
                  const i = Math.floor(top / (u.over.clientHeight / Math.max(1, n)));
                  const row = rows[i];
                  const seg = row && segmentAt(row.segments, u.posToVal(left, 'x'));
                  if (!row || !seg) {
                    el.hidden = true;
                    u.over.style.cursor = '';
                    return;
                  }
                  el.textContent = describe(row, seg, reasons, tz, editable);
                  u.over.style.cursor = editable && pickAt(u, rows, left, top) ? 'pointer' : '';
                  el.hidden = false;
                  const box = u.over.getBoundingClientRect();
                  const host = el.parentElement!.getBoundingClientRect();
                  const x = box.left - host.left + left + 12;
                  el.style.left = `${Math.min(x, host.width - el.offsetWidth - 4)}px`;
                  el.style.top = `${box.top - host.top + top + 12}px`;
                },
              ],
            },
          },
          data: [
            [from, to],
            [null, null],
          ],
        })}
      />
      <div ref={tip} class="gantt-tip" hidden style="white-space:pre-line" role="tooltip" id="gantt-tip" />
      <div class="legend" aria-hidden="true">
        {(['RUNNING', 'STOPPED', 'UNKNOWN', 'DOWNTIME', 'UNSCHEDULED'] as Paint[]).map((s) => (
          <span key={s}>
            <span class="state-dot" style={`background:${FILL[s]}`} />
            {WORD[s]}
          </span>
        ))}
      </div>
      <details>
        <summary>Show as a list</summary>
        <Table id="timeline-list" bare columns={['Machine', 'State', 'From', 'To', { label: 'Duration', num: true }, 'Reason']}>
          {rows.flatMap((row) =>
            row.segments.map((seg) => {
              const parts = seg.state === 'STOPPED' ? partsUnder(row.stops, seg.start, seg.end) : [];
              return (
                <tr key={`${row.asset.id}-${seg.start}`} data-state={seg.state} data-start={seg.start} data-end={seg.end}>
                  <td>{row.asset.name}</td>
                  <td>{WORD[seg.state]}</td>
                  <td>{formatTime(seg.start, tz)}</td>
                  <td>{formatTime(seg.end, tz)}</td>
                  <td class="num">{formatDuration(seg.end - seg.start)}</td>
                  <td class="timeline-reasons">
                    {parts.map((p) => (
                      <span key={p.id} class="timeline-reason" data-stop-id={p.id}>
                        {parts.length > 1 && <>from {formatTime(p.start, tz)}: </>}
                        {reasonText(p, reasons)}
                        {p.comment && <> ({p.comment})</>}
                        {onPick && (
                          <button type="button" aria-label={reasonTitle(stopLabel(row.asset.name, p.start, tz))} onClick={() => onPick(row, p)}>
                            Reason…
                          </button>
                        )}
                      </span>
                    ))}
                  </td>
                </tr>
              );
            }),
          )}
        </Table>
      </details>
    </section>
  );
}

function safeWeekday(date: string): string {
  try {
    return weekdayOf(date);
  } catch {
    return '';
  }
}

export function Timeline() {
  useTitle('Timeline');
  const tz = zone.value;
  const query = location.value.query;
  const date = query.get('date') ?? localDate(Date.now(), tz);
  const asset = query.get('asset') ?? '';
  const shiftName = query.get('shift') ?? '';
  const assets = useData(() => api.assets(), []);
  // The calendar of that day: a change of the shifts applies from its own day on.
  const shifts = useData(() => api.shifts(date), [date]);
  const todays = (shifts.data ?? []).filter((s) => s.days.includes(safeWeekday(date)));
  const shift = todays.find((s) => s.name === shiftName);
  let span: { from: number; to: number } | null = null;
  try {
    span = shift ? shiftSpan(date, shift.start, shift.end, tz) : localDaySpan(date, tz);
  } catch {
    span = null;
  }
  const data = useLiveData(() => (span ? load(asset, span.from, span.to) : Promise.reject(new Error('Choose a day.'))), [span?.from, span?.to, asset], span !== null);
  const [target, setTarget] = useState<ReasonTarget | null>(null);
  return (
    <main id="main">
      <div class="page-head">
        <h1>Timeline</h1>
        <button type="button" onClick={() => data.reload()}>
          Refresh
        </button>
      </div>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="What to show">
        <label>
          Day
          <input type="date" required value={date} onChange={(e) => setQuery({ date: e.currentTarget.value })} />
        </label>
        <label>
          Show
          <select value={shift ? shiftName : ''} onChange={(e) => setQuery({ shift: e.currentTarget.value })}>
            <option value="">Whole day</option>
            {todays.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name} shift ({s.start}–{s.end})
              </option>
            ))}
          </select>
        </label>
        <label>
          Machine
          <select value={asset} onChange={(e) => setQuery({ asset: e.currentTarget.value })}>
            <option value="">All machines</option>
            {(assets.data ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
      </form>
      {data.stale ? <StaleNote stale={data.stale} loadedAt={data.loadedAt} error={data.error} /> : <ErrorNote error={data.error} />}
      {!data.data && !data.error && <Loading what="the timeline" />}
      {data.data && data.data.rows.length === 0 && (
        <Empty title="No machines yet">
          <p>
            The timeline shows each machine once a logger reports it. See <a href="/loggers">Loggers</a>.
          </p>
        </Empty>
      )}
      {data.data && data.data.rows.length > 0 && span && (
        <>
          <Gantt
            rows={data.data.rows}
            reasons={data.data.reasons}
            shifts={data.data.shifts}
            from={span.from}
            to={span.to}
            stale={data.stale}
            onPick={canAnnotate.value ? (row, part) => setTarget({ stop: part, machine: row.asset.name }) : undefined}
          />
          {data.data.more > 0 && <p class="hint">{data.data.more} more machines: pick one above to see it.</p>}
        </>
      )}
      {canAnnotate.value && (
        <ReasonDialog
          target={target}
          reasons={data.data?.reasons ?? []}
          onClose={() => setTarget(null)}
          onSaved={(stop, reason_id, comment) =>
            data.setData(
              (d) => d && { ...d, rows: d.rows.map((r) => (r.asset.id === stop.asset_id ? { ...r, stops: r.stops.map((p) => (p.id === stop.id ? { ...p, reason_id, comment } : p)) } : r)) },
            )
          }
        />
      )}
    </main>
  );
}
