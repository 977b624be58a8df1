// Analytics: the figures of docs/ANALYTICS.md for a period, per machine and per bucket, with the
// availability trend, the Pareto of downtime by reason, and the CSV the server makes.

import { useMemo, useState } from 'preact/hooks';
import { api, type Analytics as Data, type AssetFigures, type Bucket, type Figures } from '../api';
import { COLORS, UChart, timeAxis, uPlot, zonedTime } from '../charts';
import { compareNullable, formatHours, formatMeanTime, formatPercent, paretoRows } from '../format';
import { location, setQuery } from '../router';
import { zone } from '../session';
import { formatDateTime, formatDay, localDate } from '../time';
import { StaleNote, useLiveData } from '../follow';
import { Empty, ErrorNote, Loading, PeriodPicker, Table, type Column as TableColumn, periodFromQuery, periodWindow, useData, useTitle } from '../ui';

const BUCKETS: { value: Bucket; label: string }[] = [
  { value: 'hour', label: 'Hour' },
  { value: 'day', label: 'Day' },
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
  { value: 'shift', label: 'Shift' },
];

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

function AssetTable({ data }: { data: Data }) {
  const [sort, setSort] = useState<{ key: Column['key']; dir: 1 | -1 }>({ key: 'asset_name', dir: 1 });
  const rows = useMemo(() => {
    const value = (r: AssetFigures) => (sort.key === 'asset_name' ? r.asset_name : (r[sort.key] as number | null));
    return [...data.assets].sort((a, b) => compareNullable(value(a), value(b), sort.dir) || a.asset_id - b.asset_id);
  }, [data, sort]);
  const header = (key: Column['key'], label: string, numeric: boolean): TableColumn => {
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
  return (
    <Table
      id="asset-figures"
      caption="Figures per machine; the column buttons sort the table."
      columns={[header('asset_name', 'Machine', false), ...COLUMNS.map((c) => header(c.key, c.label, c.numeric))]}
      foot={
        <tr data-total>
          <th scope="row">All machines</th>
          {COLUMNS.map((c) => (
            <td key={c.key} class="num" data-col={c.key}>
              {c.show(data.total)}
            </td>
          ))}
        </tr>
      }
    >
      {rows.map((r) => (
        <tr key={r.asset_id} data-asset-id={r.asset_id}>
          <th scope="row">{r.asset_name}</th>
          {COLUMNS.map((c) => (
            <td key={c.key} class="num" data-col={c.key}>
              {c.show(r)}
            </td>
          ))}
        </tr>
      ))}
    </Table>
  );
}

function bucketLabel(start: string, bucket: Bucket, tz: string, shift?: string): string {
  const t = Date.parse(start);
  if (bucket === 'hour') return formatDateTime(t, tz);
  if (bucket === 'shift') return `${shift ?? 'Shift'} · ${formatDay(t, tz)}`;
  return formatDay(t, tz);
}

function Trend({ data, bucket }: { data: Data; bucket: Bucket }) {
  const tz = data.timezone;
  const buckets = data.total.buckets;
  const shown = data.assets.length <= COLORS.length - 1 ? data.assets : [];
  if (buckets.length === 0) return null;
  return (
    <section class="chart" aria-labelledby="trend-title">
      <h2 id="trend-title">Availability by {bucket}</h2>
      <UChart
        label={`Availability by ${bucket}; the table below has the figures`}
        deps={[data, bucket]}
        build={() => {
          const xs = buckets.map((b) => Date.parse(b.start));
          const pct = (f: Figures) => (f.availability === null ? null : f.availability * 100);
          const series: uPlot.Series[] = [
            { value: (_u, v) => (v === null ? '—' : bucketLabel(new Date(v).toISOString(), bucket, tz)) },
            { label: 'All machines', stroke: '#1f2328', width: 3, points: { show: true, size: 6 }, value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)} %`) },
            ...shown.map((a, i) => ({
              label: a.asset_name,
              stroke: COLORS[i % COLORS.length]!,
              width: 1.5,
              value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${v.toFixed(1)} %`),
            })),
          ];
          return {
            options: {
              ...zonedTime(tz),
              // Room on the right for the last day's label.
              padding: [12, 28, 0, 0],
              series,
              scales: { y: { range: [0, 100] } },
              axes: [timeAxis(tz, Date.parse(data.to) - Date.parse(data.from)), { values: (_u, splits) => splits.map((v) => `${v} %`), size: 56 }],
              legend: { live: true },
            },
            data: [xs, buckets.map(pct), ...shown.map((a) => a.buckets.map(pct))] as uPlot.AlignedData,
          };
        }}
      />
      <details>
        <summary>Show as a table</summary>
        <Table bare columns={[bucket, { label: 'Availability', num: true }, { label: 'Stops', num: true }]}>
          {buckets.map((b) => (
            <tr key={b.start}>
              <td>{bucketLabel(b.start, bucket, tz, b.shift)}</td>
              <td class="num">{formatPercent(b.availability)}</td>
              <td class="num">{b.stops}</td>
            </tr>
          ))}
        </Table>
      </details>
    </section>
  );
}

function Pareto({ data }: { data: Data }) {
  const rows = paretoRows(data.total.downtime_by_reason);
  return (
    <section class="chart" aria-labelledby="pareto-title">
      <h2 id="pareto-title">Downtime by reason</h2>
      {rows.length === 0 ? (
        <p class="hint">No down time in this period.</p>
      ) : (
        <>
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
              },
              data: [rows.map((_, i) => i), rows.map((r) => r.down_ms / 3_600_000), rows.map((r) => r.cumulative * 100)],
            })}
          />
          <Table id="pareto-table" bare columns={['Reason', { label: 'Down', num: true }, { label: 'Stops', num: true }, { label: 'Cumulative', num: true }]}>
            {rows.map((r) => (
              <tr key={r.name}>
                <td>{r.name}</td>
                <td class="num">{formatHours(r.down_ms)}</td>
                <td class="num">{r.stops}</td>
                <td class="num">{formatPercent(r.cumulative, 0)}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </section>
  );
}

function Kpis({ total }: { total: Figures }) {
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
      {items.map(([label, value]) => (
        <div class="kpi" key={label}>
          <dt class="label">{label}</dt>
          <dd class="value" style="margin:0">
            {value}
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
  const { data, error, stale, loadedAt } = useLiveData(
    () => (span ? api.analytics({ from: span.from, to: span.to, bucket }) : Promise.reject(new Error('Choose a start date and an end date on or after it.'))),
    [span?.from, span?.to, bucket],
    span !== null,
  );
  const [csvError, setCsvError] = useState<unknown>(null);
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
      {data && span && (!error || stale) && data.assets.length === 0 && (
        <Empty title="No machines yet">
          <p>
            Figures appear once a logger reports. See <a href="/loggers">Loggers</a> to connect or claim one.
          </p>
        </Empty>
      )}
      {data && span && (!error || stale) && data.assets.length > 0 && (
        <div class={stale ? 'is-stale' : undefined}>
          <p class="hint period-shown">
            {formatDateTime(Date.parse(data.from), tz)} to {formatDateTime(Date.parse(data.to), tz)} ({tz}). Availability is run time over run plus down
            time; time without a trustworthy state is counted apart as unknown.
          </p>
          <Kpis total={data.total} />
          <AssetTable data={data} />
          <div class="charts">
            <Trend data={data} bucket={bucket} />
            <Pareto data={data} />
          </div>
        </div>
      )}
    </main>
  );
}
