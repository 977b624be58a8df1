// Timeline: a Gantt of each machine's states over one local day. The mouse wheel zooms about the
// pointer (Shift + wheel or a sideways swipe pans), dragging across the chart zooms to that span,
// double-click resets; the buttons do the same from the keyboard. Hovering a span shows its start,
// end, duration and, for a stop, its reason.

import { useRef, useState } from 'preact/hooks';
import { api, type Asset, type AssetState, type Reason, type Stop, type StoredEvent } from '../api';
import { UChart, timeAxis, uPlot, zonedTime } from '../charts';
import { formatDuration } from '../format';
import { location, setQuery } from '../router';
import { zone } from '../session';
import { formatDateTime, formatTime, localDate, localDaySpan, shiftSpan, weekdayOf } from '../time';
import { type Segment, pan, segmentAt, segments, wheelFactor, zoom, zoomAt } from '../timeline';
import { Empty, ErrorNote, Loading, Table, useData, useTitle } from '../ui';

const FILL: Record<AssetState, string> = { RUNNING: '#1a7f37', STOPPED: '#c62828', UNKNOWN: '#8c959f' };
const WORD: Record<AssetState, string> = { RUNNING: 'Running', STOPPED: 'Stopped', UNKNOWN: 'Unknown' };
const MAX_ROWS = 40;

interface Row {
  asset: Asset;
  segments: Segment[];
  stops: Stop[];
}

/** Every event of an asset inside `[from, to)`, following the pages, and the state before it. */
async function history(assetId: number, from: number, to: number) {
  const events: StoredEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.events({ asset_id: assetId, from, to, limit: 1000, cursor });
    events.push(...page.events);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  const before = await api.events({ asset_id: assetId, to: from, limit: 1 });
  return { events, before: before.events[0]?.state ?? null };
}

async function load(assetFilter: string, from: number, to: number): Promise<{ rows: Row[]; reasons: Reason[]; more: number }> {
  const [assets, reasons] = await Promise.all([api.assets(), api.reasons()]);
  const chosen = assetFilter ? assets.filter((a) => String(a.id) === assetFilter) : assets;
  const shown = chosen.slice(0, MAX_ROWS);
  const stops = shown.length ? await api.stops({ from, to, asset_id: shown.map((a) => a.id) }) : [];
  const now = Date.now();
  const rows = await Promise.all(
    shown.map(async (asset) => {
      const h = await history(asset.id, from, to);
      return { asset, segments: segments(h.events, h.before, from, to, now), stops: stops.filter((s) => s.asset_id === asset.id) };
    }),
  );
  return { rows, reasons, more: chosen.length - shown.length };
}

function describe(row: Row, seg: Segment, reasons: Reason[], tz: string): string {
  const lines = [
    `${row.asset.name}: ${WORD[seg.state]}`,
    `${formatDateTime(seg.start, tz)} – ${formatTime(seg.end, tz)}`,
    formatDuration(seg.end - seg.start),
  ];
  if (seg.state === 'STOPPED') {
    const parts = row.stops.filter((p) => p.start < seg.end && p.end > seg.start);
    for (const p of parts) {
      const reason = reasons.find((r) => r.id === p.reason_id);
      lines.push(`${parts.length > 1 ? `from ${formatTime(p.start, tz)}: ` : ''}${reason ? `${reason.category}: ${reason.name}` : 'no reason yet'}${p.comment ? ` (${p.comment})` : ''}`);
    }
  }
  return lines.join('\n');
}

function Gantt({ rows, reasons, from, to }: { rows: Row[]; reasons: Reason[]; from: number; to: number }) {
  const tz = zone.value;
  const chart = useRef<uPlot | null>(null);
  const tip = useRef<HTMLDivElement>(null);
  const n = rows.length;
  // What the x axis shows now, said in words beside the buttons (null: the whole span).
  const [view, setView] = useState<{ min: number; max: number } | null>(null);
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
    <section class="chart" aria-labelledby="gantt-title" style="position:relative">
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
        deps={[rows, reasons, from, to, tz]}
        onReady={(u) => {
          chart.current = u;
          setView(null);
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
              ready: [(u: uPlot) => u.over.addEventListener('wheel', (e) => onWheel(u, e), { passive: false })],
              setScale: [
                (u: uPlot, key: string) => {
                  const x = u.scales.x;
                  if (key === 'x' && x?.min != null && x.max != null) setView(x.min <= from && x.max >= to ? null : { min: x.min, max: x.max });
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
                    for (const seg of row.segments) {
                      const x0 = u.valToPos(seg.start, 'x', true);
                      const x1 = u.valToPos(seg.end, 'x', true);
                      ctx.fillStyle = FILL[seg.state];
                      ctx.fillRect(x0, y0 + pad, Math.max(1, x1 - x0), y1 - y0 - 2 * pad);
                    }
                  });
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
                    return;
                  }
                  const i = Math.floor(top / (u.over.clientHeight / Math.max(1, n)));
                  const row = rows[i];
                  const seg = row && segmentAt(row.segments, u.posToVal(left, 'x'));
                  if (!row || !seg) {
                    el.hidden = true;
                    return;
                  }
                  el.textContent = describe(row, seg, reasons, tz);
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
        {(['RUNNING', 'STOPPED', 'UNKNOWN'] as AssetState[]).map((s) => (
          <span key={s}>
            <span class="state-dot" style={`background:${FILL[s]}`} />
            {WORD[s]}
          </span>
        ))}
      </div>
      <details>
        <summary>Show as a list</summary>
        <Table id="timeline-list" bare columns={['Machine', 'State', 'From', 'To', { label: 'Duration', num: true }]}>
          {rows.flatMap((row) =>
            row.segments.map((seg) => (
              <tr key={`${row.asset.id}-${seg.start}`}>
                <td>{row.asset.name}</td>
                <td>{WORD[seg.state]}</td>
                <td>{formatTime(seg.start, tz)}</td>
                <td>{formatTime(seg.end, tz)}</td>
                <td class="num">{formatDuration(seg.end - seg.start)}</td>
              </tr>
            )),
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
  const shifts = useData(() => api.shifts(), []);
  const todays = (shifts.data ?? []).filter((s) => s.days.includes(safeWeekday(date)));
  const shift = todays.find((s) => s.name === shiftName);
  let span: { from: number; to: number } | null = null;
  try {
    span = shift ? shiftSpan(date, shift.start, shift.end, tz) : localDaySpan(date, tz);
  } catch {
    span = null;
  }
  const [refreshed, setRefreshed] = useState(0);
  const data = useData(() => (span ? load(asset, span.from, span.to) : Promise.reject(new Error('Choose a day.'))), [span?.from, asset, refreshed]);
  return (
    <main id="main">
      <div class="page-head">
        <h1>Timeline</h1>
        <button type="button" onClick={() => setRefreshed(refreshed + 1)}>
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
      <ErrorNote error={data.error} />
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
          <Gantt rows={data.data.rows} reasons={data.data.reasons} from={span.from} to={span.to} />
          {data.data.more > 0 && <p class="hint">{data.data.more} more machines: pick one above to see it.</p>}
        </>
      )}
    </main>
  );
}
