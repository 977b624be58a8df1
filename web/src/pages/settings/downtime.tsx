// Planned downtime: maintenance, holidays, trials; time that is not planned production. Once (a
// span) or every week (days and times, from a first day on, for good unless a last day is given).
// Times are typed in 24 h in the tenant's zone, whatever the browser's locale.

import { useState } from 'preact/hooks';
import { api, type Asset, type PlannedDowntime } from '../../api';
import { DateTimeInput, TimeField } from '../../datetime-input';
import { DAYS, EMPTY_FORM, type DowntimeForm, downtimeBody, removeLabel, whenText, withDay } from '../../planned';
import { zone } from '../../session';
import { Confirm, ErrorNote, Table, useData, useSave } from '../../ui';

export function Downtime({ assets }: { assets: Asset[] }) {
  const tz = zone.value;
  const { data, error, setData } = useData(() => api.plannedDowntime(), []);
  const [form, setForm] = useState<DowntimeForm>(EMPTY_FORM);
  const [removing, setRemoving] = useState<PlannedDowntime | null>(null);
  // Adding and removing report under the form, in one place.
  const save = useSave();
  const set = (change: Partial<DowntimeForm>) => setForm((f) => ({ ...f, ...change }));
  const name = (id: number | null) => (id === null ? 'All machines' : (assets.find((a) => a.id === id)?.name ?? `Machine ${id}`));
  const weekly = form.repeat === 'weekly';
  return (
    <section class="card stack" aria-labelledby="downtime-title">
      <h2 id="downtime-title">Planned downtime</h2>
      <p class="hint" style="margin:0">
        Maintenance, holidays, trials: time that is not planned production, so it counts neither as run nor as down.
      </p>
      <ErrorNote error={error} />
      {data && data.length > 0 && (
        <Table id="planned-downtime" columns={['Machine', 'When', 'Note', { label: 'Actions', hidden: true }]}>
          {data.map((d) => {
            const when = whenText(d, tz);
            return (
              <tr key={d.id} data-weekly={d.weekly ? 'true' : undefined}>
                <td>{name(d.asset_id)}</td>
                <td>{when}</td>
                <td>{d.note}</td>
                <td>
                  <button type="button" onClick={() => setRemoving(d)} aria-label={removeLabel(d, tz)}>
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      <form
        class="stack downtime-form"
        aria-label="Add planned downtime"
        onSubmit={save.submit(async () => {
          const created = await api.addPlannedDowntime(downtimeBody(form, tz));
          setData((list) => [...(list ?? []), created].sort((a, b) => a.from - b.from || a.id - b.id));
          setForm((f) => ({ ...EMPTY_FORM, assetId: f.assetId, repeat: f.repeat }));
        })}
      >
        <div class="row">
          <label>
            Machine
            <select value={form.assetId} onChange={(e) => set({ assetId: e.currentTarget.value })}>
              <option value="">All machines</option>
              {assets.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </label>
          <fieldset class="choice">
            <legend>Repeats</legend>
            <label class="inline">
              <input type="radio" name="downtime-repeat" value="once" checked={!weekly} onChange={() => set({ repeat: 'once' })} />
              Once
            </label>
            <label class="inline">
              <input type="radio" name="downtime-repeat" value="weekly" checked={weekly} onChange={() => set({ repeat: 'weekly' })} />
              Every week
            </label>
          </fieldset>
        </div>
        {weekly ? (
          <>
            <div class="days" role="group" aria-label="Days of the week">
              {DAYS.map(([value, label]) => (
                <label class="inline" key={value}>
                  <input type="checkbox" checked={form.days.includes(value)} onChange={(e) => set({ days: withDay(form.days, value, e.currentTarget.checked) })} />
                  {label}
                </label>
              ))}
            </div>
            <div class="row">
              <label>
                Starts ({tz})
                <TimeField required value={form.start} onInput={(start) => set({ start })} />
              </label>
              <label>
                Ends
                <TimeField required value={form.end} onInput={(end) => set({ end })} />
              </label>
              <label>
                First day (optional)
                <input type="date" value={form.firstDay} onInput={(e) => set({ firstDay: e.currentTarget.value })} aria-describedby="downtime-days-hint" />
              </label>
              <label>
                Last day (optional)
                <input type="date" value={form.lastDay} min={form.firstDay || undefined} onInput={(e) => set({ lastDay: e.currentTarget.value })} aria-describedby="downtime-days-hint" />
              </label>
            </div>
            <p class="hint" id="downtime-days-hint" style="margin:0">
              Without a first day it applies from now on; without a last day, for good.
            </p>
          </>
        ) : (
          <div class="row">
            <DateTimeInput name="From" legend={`From (${tz})`} required value={form.from} onChange={(from) => set({ from })} />
            <DateTimeInput name="To" required value={form.to} onChange={(to) => set({ to })} />
          </div>
        )}
        <div class="row">
          <label>
            Note
            <input maxLength={500} value={form.note} onInput={(e) => set({ note: e.currentTarget.value })} />
          </label>
          <button type="submit">Add planned downtime</button>
        </div>
      </form>
      <ErrorNote error={save.error} />
      <Confirm
        open={removing !== null}
        title="Remove this planned downtime?"
        confirmLabel="Remove"
        danger
        onCancel={() => setRemoving(null)}
        onConfirm={() => {
          const d = removing!;
          setRemoving(null);
          void save.run(async () => {
            await api.deletePlannedDowntime(d.id);
            setData((list) => list?.filter((x) => x.id !== d.id) ?? null);
          });
        }}
      >
        <p>{removing?.weekly ? 'Every week it covers becomes planned production again, also in the past, and the figures change with it.' : 'The time becomes planned production again, and the figures change with it.'}</p>
      </Confirm>
    </section>
  );
}
