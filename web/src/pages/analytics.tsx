// Analytics: the figures of docs/ANALYTICS.md for a period, per machine (grouped by line, with
// subtotals) and per bucket, the shifts side by side, the availability trend of all machines, a
// line or a machine against its target, the Pareto of downtime by reason, and the CSV the server
// makes. A machine's own target wins over the plant's; below it, a cell says so in words too.

import { useMemo, useRef, useState } from 'preact/hooks';
import { api, type Analytics as Data, type Asset, type AssetFigures, type BucketFigures, type Bucket, type Figures } from '../api';
import {
  assetTarget,
  belowTarget,
  commonTarget,
  compareShifts,
  groupByLine,
  linesOf,
  parseTrend,
  sumBuckets,
  trendMachines,
  trendValue,
  type TrendChoice,
} from '../analytics';
import { COLORS, UChart, dayAxis, targetLine, timeAxis, uPlot, zonedTime } from '../charts';
import { compareNullable, formatHours, formatMeanTime, formatPercent, formatTarget, paretoRows } from '../format';
import { location, setQuery } from '../router';
import { zone } from '../session';
import { localMidnights } from '../ticks';
import { formatDateTime, formatDay, localDate } from '../time';
import { StaleNote, useLiveData } from '../follow';
import { Empty, ErrorNote, Loading, PeriodPicker, Table, type Column as TableColumn, periodFromQuery, periodWindow, useTitle } from '../ui';

const BUCKETS: { value: Bucket; label: string }[] = [
  { value: 'hour', label: 'Hour' },
  { value: 'day', label: 'Day' },
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
  { value: 'shift', label: 'Shift' },
];

/** What the page shows: the figures in the chosen buckets, the same by shift, and what the table groups and marks by. */
interface PageData {
  figures: Data;
  shifts: Data;
  assets: Map<number, Asset>;
  /** The tenant's target availability (null: none). */
  tenantTarget: number | null;
}

async function load(span: { from: number; to: number }, bucket: Bucket): Promise<PageData> {
  const [figures, shifts, assets, settings] = await Promise.all([
    api.analytics({ from: span.from, to: span.to, bucket }),
    bucket === 'shift' ? null : api.analytics({ from: span.from, to: span.to, bucket: 'shift' }),
    api.assets(),
    api.settings(),
  ]);
  return {
    figures,
    shifts: shifts ?? figures,
    assets: new Map(assets.map((a) => [a.id, a])),
    tenantTarget: settings.target_availability ?? null,
  };
}

/** Who a page part asks for a machine's line and target. */
interface Plant {
  tenantTarget: number | null;
  lineOf: (id: number) => string | null;
  /** A machine's own target (null: it has none, the plant's applies). */
  ownTarget: (id: number) => number | null;
  targetOf: (id: number) => number | null;
  /** The target of several machines together: the one they share, else the plant's. */
  targetOfAll: (ids: number[]) => number | null;
}

function plantOf(d: PageData): Plant {
  const targetOf = (id: number) => assetTarget(d.assets.get(id), d.tenantTarget);
  return {
    tenantTarget: d.tenantTarget,
    lineOf: (id) => d.assets.get(id)?.line ?? null,
    ownTarget: (id) => d.assets.get(id)?.target_availability ?? null,
    targetOf,
    targetOfAll: (ids) => commonTarget(ids.map(targetOf), d.tenantTarget),
  };
}

type Column = {
  key: keyof Figures | 'asset_name';
  label: string;
  show: (f: Figures) => string;
  numeric: boolean;
};

const COLUMNS: Column[] = [
  { key: 'availability', label: 'Availability', show: (f) => formatPercent(f.availability), numeric: true },
  { key: 'run_ms', label: 'Run', show: (f) => formatHours(f.run_ms), numeric: true },
  { key: 'down_ms', label: 'Down', show: (f) => formatHours(f.down_ms), numeric: true },
  { key: 'unknown_ms', label: 'Unknown', show: (f) => formatHours(f.unknown_ms), numeric: true },
  { key: 'stops', label: 'Stops', show: (f) => String(f.stops), numeric: true },
  { key: 'short_stops', label: 'Short', show: (f) => String(f.short_stops), numeric: true },
  { key: 'long_stops', label: 'Long', show: (f) => String(f.long_stops), numeric: true },
  { key: 'mtbf_ms', label: 'MTBF', show: (f) => formatHours(f.mtbf_ms), numeric: true },
  { key: 'mttr_ms', label: 'MTTR', show: (f) => formatMeanTime(f.mttr_ms), numeric: true },
];

/**
 * An availability against its target: below it, a warning colour and the words "below target
 * 85 %" (the arrow is for the eye only); otherwise just the figure.
 */
function AvailabilityCell({ value, target }: { value: number | null; target: number | null }) {
  const below = belowTarget(value, target);
  return (
    <td class={below ? 'num below-target' : 'num'} data-col="availability" data-label="Availability" data-target={target ?? undefined} data-below-target={below ? 'true' : undefined}>
      <span class="value">{formatPercent(value)}</span>
      {below && (
        <span class="target-cue">
          <span aria-hidden="true">▼ </span>below target {formatTarget(target)}
        </span>
      )}
    </td>
  );
}

/** The cells of one row of figures after its heading cell. */
function FigureCells({ f, target }: { f: Figures; target: number | null }) {
  return (
    <>
      {COLUMNS.map((c) =>
        c.key === 'availability' ? (
          <AvailabilityCell key={c.key} value={f.availability} target={target} />
        ) : (
          <td key={c.key} class="num" data-col={c.key} data-label={c.label}>
            {c.show(f)}
          </td>
        ),
      )}
    </>
  );
}

function AssetTable({ data, plant }: { data: Data; plant: Plant }) {
  const [sort, setSort] = useState<{ key: Column['key']; dir: 1 | -1 }>({ key: 'asset_name', dir: 1 });
  const rows = useMemo(() => {
    const value = (r: AssetFigures) => (sort.key === 'asset_name' ? r.asset_name : (r[sort.key] as number | null));
    return [...data.assets].sort((a, b) => compareNullable(value(a), value(b), sort.dir) || a.asset_id - b.asset_id);
  }, [data, sort]);
  // Grouped once some machine names its line; a plant without lines keeps one plain list.
  const grouped = data.assets.some((a) => plant.lineOf(a.asset_id) !== null);
  const groups = useMemo(() => groupByLine(rows, (r) => plant.lineOf(r.asset_id)), [rows, plant]);
  const header = (key: Column['key'], label: string, numeric: boolean): Exclude<TableColumn, string> => {
    const active = sort.key === key;
    return {
      num: numeric,
      sort: active ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none',
      label: (
        <button type="button" class="sort" onClick={() => setSort({ key, dir: active ? (-sort.dir as 1 | -1) : numeric ? -1 : 1 })}>
          {label}
          <span aria-hidden="true">{active ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}</span>
        </button>
      ),
    };
  };
  const columns = [header('asset_name', 'Machine', false), ...COLUMNS.map((c) => header(c.key, c.label, c.numeric))];
  const assetRow = (r: AssetFigures) => (
    <tr key={r.asset_id} data-asset-id={r.asset_id}>
      <th scope="row">{r.asset_name}</th>
      <FigureCells f={r} target={plant.targetOf(r.asset_id)} />
    </tr>
  );
  return (
    <div class="table-wrap">
      <table id="asset-figures" class={grouped ? 'grouped' : undefined}>
        <caption class="visually-hidden">
          Figures per machine{grouped ? ', under the line each stands in, with a subtotal per line' : ''}; the column buttons sort the table.
        </caption>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" class={c.num ? 'num' : undefined} aria-sort={c.sort}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        {grouped ? (
          groups.map((g) => {
            const name = g.line ?? 'No line';
            return (
              <tbody key={name} data-line={g.line ?? ''}>
                <tr class="line-head">
                  <th scope="rowgroup" colSpan={columns.length}>
                    {name} <span class="hint">({g.rows.length === 1 ? '1 machine' : `${g.rows.length} machines`})</span>
                  </th>
                </tr>
                {g.rows.map(assetRow)}
                <tr class="subtotal" data-subtotal={g.line ?? ''}>
                  <th scope="row">Subtotal {name}</th>
                  <FigureCells f={g.subtotal} target={plant.targetOfAll(g.rows.map((r) => r.asset_id))} />
                </tr>
              </tbody>
            );
          })
        ) : (
          <tbody>{rows.map(assetRow)}</tbody>
        )}
        <tfoot>
          <tr data-total>
            <th scope="row">All machines</th>
            <FigureCells f={data.total} target={plant.targetOfAll(data.assets.map((a) => a.asset_id))} />
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

/** Early against Late against Night over the period, every machine together. */
function ShiftComparison({ shifts, plant }: { shifts: Data; plant: Plant }) {
  const rows = compareShifts(shifts.assets, Date.parse(shifts.from), shifts.timezone);
  const target = plant.targetOfAll(shifts.assets.map((a) => a.asset_id));
  return (
    <section class="chart shift-compare" aria-labelledby="shifts-title">
      <h2 id="shifts-title">Shifts compared</h2>
      {rows.length === 0 ? (
        <p class="hint" id="no-shifts">
          No shifts in this period: the plant has no shift calendar for these days, so there is nothing to compare. An admin sets the shifts in the{' '}
          <a href="/settings">shift calendar</a>.
        </p>
      ) : (
        <>
          <p class="hint">Every machine together, each shift summed over all its occurrences in the period.</p>
          {/* Focusable: in a narrow window (not a phone: there it is cards) the table scrolls sideways, and a keyboard must be able to scroll it too. */}
          <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="shifts-title">
            <Table
              id="shift-figures"
              bare
              caption="Figures per shift, every machine together"
              columns={['Shift', { label: 'Availability', num: true }, { label: 'Run', num: true }, { label: 'Down', num: true }, { label: 'Stops', num: true }, { label: 'MTTR', num: true }]}
            >
              {rows.map((r) => (
                <tr key={r.name} data-shift={r.name}>
                  <th scope="row">
                    {r.name} <span class="hint">({r.occurrences === 1 ? 'once' : `${r.occurrences} times`})</span>
                    <span class="shift-bar" aria-hidden="true">
                      <span style={{ width: `${(r.availability ?? 0) * 100}%` }} />
                    </span>
                  </th>
                  <AvailabilityCell value={r.availability} target={target} />
                  <td class="num" data-col="run_ms" data-label="Run">
                    {formatHours(r.run_ms)}
                  </td>
                  <td class="num" data-col="down_ms" data-label="Down">
                    {formatHours(r.down_ms)}
                  </td>
                  <td class="num" data-col="stops" data-label="Stops">
                    {r.stops}
                  </td>
                  <td class="num" data-col="mttr_ms" data-label="MTTR">
                    {formatMeanTime(r.mttr_ms)}
                  </td>
                </tr>
              ))}
            </Table>
          </div>
        </>
      )}
    </section>
  );
}

function bucketLabel(start: string, bucket: Bucket, tz: string, shift?: string): string {
  const t = Date.parse(start);
  if (bucket === 'hour') return formatDateTime(t, tz);
  if (bucket === 'shift') return `${shift ?? 'Shift'} · ${formatDay(t, tz)}`;
  return formatDay(t, tz);
}

/** Where a time axis over days may put labels: at each bucket for days, weeks, months; else at local midnights. */
function labelPlaces(bucket: Bucket, xs: number[], tz: string): (min: number, max: number) => number[] {
  if (bucket === 'day' || bucket === 'week' || bucket === 'month') return (min, max) => xs.filter((x) => x >= min && x <= max);
  return (min, max) => localMidnights(min, max, tz);
}

function Trend({ data, bucket, plant, choice }: { data: Data; bucket: Bucket; plant: Plant; choice: TrendChoice }) {
  const tz = data.timezone;
  const lines = linesOf(data.assets.map((a) => ({ line: plant.lineOf(a.asset_id) })));
  let machines = trendMachines(data.assets, choice, plant.lineOf);
  // A line or machine the period does not have (an old link): all machines.
  if (machines.length === 0) {
    choice = { kind: 'all' };
    machines = data.assets;
  }
  const ids = machines.map((m) => m.asset_id);
  const name = choice.kind === 'all' ? 'All machines' : choice.kind === 'line' ? choice.line : machines[0]!.asset_name;
  const buckets: BucketFigures[] = choice.kind === 'all' ? data.total.buckets : choice.kind === 'asset' ? machines[0]!.buckets : sumBuckets(machines);
  const thin = choice.kind !== 'asset' && machines.length > 1 && machines.length <= COLORS.length - 1 ? machines : [];
  const target = choice.kind === 'asset' ? plant.targetOf(choice.id) : plant.targetOfAll(ids);
  const span = Date.parse(data.to) - Date.parse(data.from);
  if (buckets.length === 0) return null;
  const targetText = target === null ? null : `Target ${formatTarget(target)}`;
  const whose =
    choice.kind === 'asset' && plant.ownTarget(choice.id) !== null
      ? 'the machine’s own'
      : target === plant.tenantTarget
        ? 'the plant’s'
        : 'the one these machines share';
  return (
    <section class="chart" aria-labelledby="trend-title">
      <h2 id="trend-title">Availability by {bucket}</h2>
      <div class="row trend-pick">
        <label>
          Show
          <select id="trend-of" value={trendValue(choice)} onChange={(e) => setQuery({ trend: e.currentTarget.value === 'all' ? undefined : e.currentTarget.value })}>
            <option value="all">All machines</option>
            {lines.length > 0 && (
              <optgroup label="Lines">
                {lines.map((l) => (
                  <option key={l} value={trendValue({ kind: 'line', line: l })}>
                    {l}
                  </option>
                ))}
              </optgroup>
            )}
            <optgroup label="Machines">
              {data.assets.map((a) => (
                <option key={a.asset_id} value={trendValue({ kind: 'asset', id: a.asset_id })}>
                  {a.asset_name}
                </option>
              ))}
            </optgroup>
          </select>
        </label>
        <p class="hint trend-target" data-target={target ?? undefined}>
          {targetText ? `Dashed line: ${targetText.toLowerCase()}, ${whose}.` : 'No target availability is set (Settings for the plant, Loggers for a machine).'}
        </p>
      </div>
      <UChart
        label={`Availability of ${name} by ${bucket}${targetText ? `, against the ${targetText.toLowerCase()}` : ''}; the table below has the figures`}
        deps={[data, bucket, trendValue(choice), target]}
        build={() => {
          const xs = buckets.map((b) => Date.parse(b.start));
          const pct = (f: Figures) => (f.availability === null ? null : f.availability * 100);
          const goal = target === null ? null : targetLine(targetText!, target * 100);
          const days = span > 2 * 86_400_000 ? dayAxis(tz, labelPlaces(bucket, xs, tz)) : null;
          const series: uPlot.Series[] = [
            { value: (_u, v) => (v === null ? '—' : bucketLabel(new Date(v).toISOString(), bucket, tz)) },
            { label: name, stroke: '#1f2328', width: 3, points: { show: true, size: 6 }, value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)} %`) },
            ...thin.map((a, i) => ({
              label: a.asset_name,
              stroke: COLORS[i % COLORS.length]!,
              width: 1.5,
              value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${v.toFixed(1)} %`),
            })),
            ...(goal ? [goal.series] : []),
          ];
          const draw = [...(goal ? [goal.hook] : []), ...(days ? [days.hook] : [])];
          return {
            options: {
              ...zonedTime(tz),
              // Room on the right for the last day's label.
              padding: [12, 28, 0, 0],
              series,
              scales: { y: { range: [0, 100] } },
              axes: [days ? days.axis : timeAxis(tz, span), { values: (_u, splits) => splits.map((v) => `${v} %`), size: 56 }],
              legend: { live: true },
              hooks: { draw },
            },
            data: [xs, buckets.map(pct), ...thin.map((a) => a.buckets.map(pct)), ...(target === null ? [] : [xs.map(() => target * 100)])] as uPlot.AlignedData,
          };
        }}
      />
      <details>
        <summary>Show as a table</summary>
        <Table id="trend-table" bare caption={`Availability of ${name} by ${bucket}`} columns={[bucket, { label: 'Availability', num: true }, { label: 'Stops', num: true }]}>
          {buckets.map((b) => (
            <tr key={b.start} data-start={b.start}>
              <td>{bucketLabel(b.start, bucket, tz, b.shift)}</td>
              <AvailabilityCell value={b.availability} target={target} />
              <td class="num">{b.stops}</td>
            </tr>
          ))}
        </Table>
      </details>
    </section>
  );
}

type ParetoRow = ReturnType<typeof paretoRows>[number];

/** What a Pareto bar's tooltip says: the reason, its down time and stops, its share and the cumulative share. */
function ParetoTip({ row, id, hidden, side }: { row: ParetoRow; id: string; hidden: boolean; side: 'left' | 'right' }) {
  return (
    <div id={id} role="tooltip" class={`chart-tip pareto-tip ${side}`} hidden={hidden}>
      <strong>{row.name}</strong>
      <span>Down {formatMeanTime(row.down_ms)}</span>
      <span>{row.stops === 1 ? '1 stop' : `${row.stops} stops`}</span>
      <span>{formatPercent(row.share, 0)} of the down time</span>
      <span>{formatPercent(row.cumulative, 0)} cumulative</span>
    </div>
  );
}

/**
 * Over the drawn bars, one button per reason (the canvas itself cannot be hovered or focused
 * bar by bar): hovering or focusing it shows its tooltip; the arrow keys move between bars and
 * Escape hides the tooltip.
 */
function ParetoBars({ rows, plot }: { rows: ParetoRow[]; plot: { left: number; top: number; width: number; height: number } }) {
  const [active, setActive] = useState<number | null>(null);
  const [current, setCurrent] = useState(0);
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);
  const move = (i: number) => {
    const next = Math.max(0, Math.min(rows.length - 1, i));
    setCurrent(next);
    buttons.current[next]?.focus();
  };
  return (
    <div
      class="pareto-bars"
      role="group"
      aria-label="The bars, one per reason: the arrow keys move between them"
      style={{ left: `${plot.left}px`, top: `${plot.top}px`, width: `${plot.width}px`, height: `${plot.height}px` }}
      onMouseLeave={() => setActive(null)}
    >
      {rows.map((r, i) => (
        <button
          key={r.name}
          ref={(el) => {
            buttons.current[i] = el;
          }}
          type="button"
          class="pareto-bar"
          data-reason={r.name}
          tabIndex={i === Math.min(current, rows.length - 1) ? 0 : -1}
          aria-describedby={`pareto-tip-${i}`}
          onMouseEnter={() => setActive(i)}
          onFocus={() => {
            setCurrent(i);
            setActive(i);
          }}
          onBlur={() => setActive((a) => (a === i ? null : a))}
          onClick={() => setActive((a) => (a === i ? null : i))}
          onKeyDown={(e) => {
            if (e.key === 'ArrowRight' || e.key === 'ArrowDown') move(i + 1);
            else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') move(i - 1);
            else if (e.key === 'Home') move(0);
            else if (e.key === 'End') move(rows.length - 1);
            else if (e.key === 'Escape') setActive(null);
            else return;
            e.preventDefault();
          }}
        >
          <span class="visually-hidden">{r.name}</span>
        </button>
      ))}
      {rows.map((r, i) => (
        <div key={r.name} class="pareto-tip-place" style={{ left: `${(i / rows.length) * 100}%`, width: `${100 / rows.length}%` }}>
          <ParetoTip row={r} id={`pareto-tip-${i}`} hidden={active !== i} side={i < rows.length / 2 ? 'left' : 'right'} />
        </div>
      ))}
    </div>
  );
}

function Pareto({ data }: { data: Data }) {
  const rows = paretoRows(data.total.downtime_by_reason);
  const [plot, setPlot] = useState<{ left: number; top: number; width: number; height: number } | null>(null);
  return (
    <section class="chart" aria-labelledby="pareto-title">
      <h2 id="pareto-title">Downtime by reason</h2>
      {rows.length === 0 ? (
        <p class="hint">No down time in this period.</p>
      ) : (
        <>
          <p class="hint">Point at a bar, or move to it with the keyboard, for its figures.</p>
          <div class="pareto-plot">
            <UChart
              label="Downtime by reason, largest first; the table below has the figures"
              deps={[data]}
              build={() => ({
                options: {
                  scales: { x: { time: false, range: [-0.5, rows.length - 0.5] }, h: { range: (_u, _min, max) => [0, Math.max(max, 0.1) * 1.1] }, pct: { range: [0, 100] } },
                  series: [
                    {},
                    {
                      label: 'Down time (h)',
                      scale: 'h',
                      fill: '#c62828cc',
                      stroke: '#c62828',
                      paths: uPlot.paths.bars!({ size: [0.6, 80] }),
                      points: { show: false },
                      value: (_u, v) => (v === null ? '—' : `${v.toFixed(2)} h`),
                    },
                    { label: 'Cumulative', scale: 'pct', stroke: '#1f2328', width: 2, value: (_u, v) => (v === null ? '—' : `${v.toFixed(0)} %`) },
                  ],
                  axes: [
                    {
                      splits: () => rows.map((_, i) => i),
                      values: (_u, splits) => splits.map((i) => rows[i]?.name ?? ''),
                      grid: { show: false },
                    },
                    { scale: 'h', values: (_u, splits) => splits.map((v) => `${v} h`), size: 56 },
                    { scale: 'pct', side: 1, values: (_u, splits) => splits.map((v) => `${v} %`), grid: { show: false }, size: 50 },
                  ],
                  legend: { live: false },
                  cursor: { show: false },
                  hooks: {
                    // Where the plotting area is, for the bars' buttons over it.
                    draw: [
                      (u) => {
                        const box = u.over.getBoundingClientRect();
                        const outer = u.root.parentElement?.parentElement?.getBoundingClientRect();
                        if (!outer) return;
                        const next = { left: box.left - outer.left, top: box.top - outer.top, width: box.width, height: box.height };
                        setPlot((p) => (p && p.left === next.left && p.top === next.top && p.width === next.width && p.height === next.height ? p : next));
                      },
                    ],
                  },
                },
                data: [rows.map((_, i) => i), rows.map((r) => r.down_ms / 3_600_000), rows.map((r) => r.cumulative * 100)],
              })}
            />
            {plot && <ParetoBars rows={rows} plot={plot} />}
          </div>
          <Table id="pareto-table" bare columns={['Reason', { label: 'Down', num: true }, { label: 'Stops', num: true }, { label: 'Share', num: true }, { label: 'Cumulative', num: true }]}>
            {rows.map((r) => (
              <tr key={r.name}>
                <td>{r.name}</td>
                <td class="num">{formatHours(r.down_ms)}</td>
                <td class="num">{r.stops}</td>
                <td class="num">{formatPercent(r.share, 0)}</td>
                <td class="num">{formatPercent(r.cumulative, 0)}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </section>
  );
}

function Kpis({ total, target }: { total: Figures; target: number | null }) {
  const below = belowTarget(total.availability, target);
  const items: [string, string][] = [
    ['Availability', formatPercent(total.availability)],
    ['Run', formatHours(total.run_ms)],
    ['Down', formatHours(total.down_ms)],
    ['Stops', `${total.stops} (${total.short_stops} short, ${total.long_stops} long)`],
    ['MTBF', formatHours(total.mtbf_ms)],
    ['MTTR', formatMeanTime(total.mttr_ms)],
  ];
  return (
    <dl class="kpis">
      {items.map(([label, value], i) => (
        <div class={i === 0 && below ? 'kpi below-target' : 'kpi'} key={label}>
          <dt class="label">{label}</dt>
          <dd class="value" style="margin:0">
            {value}
            {i === 0 && target !== null && (
              <span class="target-cue">
                {below ? (
                  <>
                    <span aria-hidden="true">▼ </span>below target {formatTarget(target)}
                  </>
                ) : (
                  `target ${formatTarget(target)}`
                )}
              </span>
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function Analytics() {
  useTitle('Analytics');
  const tz = zone.value;
  const query = location.value.query;
  const period = periodFromQuery(query, Date.now(), tz);
  const span = periodWindow(period, Date.now(), tz);
  const short = span ? span.to - span.from <= 2 * 86_400_000 : true;
  const bucket = (BUCKETS.find((b) => b.value === query.get('bucket'))?.value ?? (short ? 'hour' : 'day')) as Bucket;
  const choice = parseTrend(query.get('trend'));
  const { data, error, stale, loadedAt } = useLiveData(
    () => (span ? load(span, bucket) : Promise.reject(new Error('Choose a start date and an end date on or after it.'))),
    [span?.from, span?.to, bucket],
    span !== null,
  );
  const plant = useMemo(() => (data ? plantOf(data) : null), [data]);
  const [csvError, setCsvError] = useState<unknown>(null);
  const figures = data?.figures;
  return (
    <main id="main">
      <div class="page-head">
        <h1>Analytics</h1>
      </div>
      <form class="toolbar" onSubmit={(e) => e.preventDefault()} aria-label="What to show">
        <PeriodPicker
          value={period}
          onChange={(p) => setQuery({ period: p.kind, from: p.kind === 'custom' ? p.from : undefined, to: p.kind === 'custom' ? p.to : undefined })}
        />
        <label>
          Bucket
          <select value={bucket} onChange={(e) => setQuery({ bucket: e.currentTarget.value })}>
            {BUCKETS.map((b) => (
              <option key={b.value} value={b.value}>
                {b.label}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={!span}
          onClick={async () => {
            if (!span) return;
            setCsvError(null);
            try {
              const blob = await api.analyticsCsv({ from: span.from, to: span.to, bucket });
              const a = document.createElement('a');
              a.href = URL.createObjectURL(blob);
              a.download = `assetlog-analytics-${localDate(span.from, tz)}.csv`;
              document.body.append(a);
              a.click();
              a.remove();
              setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
            } catch (err) {
              setCsvError(err);
            }
          }}
        >
          Download CSV
        </button>
      </form>
      {stale ? <StaleNote stale={stale} loadedAt={loadedAt} error={error} /> : <ErrorNote error={error} />}
      <ErrorNote error={csvError} />
      {!data && !error && <Loading what="figures" />}
      {/* After an error (dates that make no period) the last figures would name the wrong period. */}
      {figures && span && (!error || stale) && figures.assets.length === 0 && (
        <Empty title="No machines yet">
          <p>
            Figures appear once a logger reports. See <a href="/loggers">Loggers</a> to connect or claim one.
          </p>
        </Empty>
      )}
      {data && figures && plant && span && (!error || stale) && figures.assets.length > 0 && (
        <div class={stale ? 'is-stale' : undefined}>
          <p class="hint period-shown">
            {formatDateTime(Date.parse(figures.from), tz)} to {formatDateTime(Date.parse(figures.to), tz)} ({tz}). Availability is run time over run plus
            down time; time without a trustworthy state is counted apart as unknown.
          </p>
          <Kpis total={figures.total} target={plant.targetOfAll(figures.assets.map((a) => a.asset_id))} />
          <AssetTable data={figures} plant={plant} />
          <ShiftComparison shifts={data.shifts} plant={plant} />
          <div class="charts">
            <Trend data={figures} bucket={bucket} plant={plant} choice={choice} />
            <Pareto data={figures} />
          </div>
        </div>
      )}
    </main>
  );
}
