// Planned downtime: maintenance, holidays, trials; time that is not planned production.

import { useState } from 'preact/hooks';
import { api, type Asset, type PlannedDowntime } from '../../api';
import { zone } from '../../session';
import { formatDateTime, parseLocalDateTime } from '../../time';
import { Confirm, ErrorNote, Table, useData, useSave } from '../../ui';

export function Downtime({ assets }: { assets: Asset[] }) {
  const tz = zone.value;
  const { data, error, setData } = useData(() => api.plannedDowntime(), []);
  const [assetId, setAssetId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [note, setNote] = useState('');
  const [removing, setRemoving] = useState<PlannedDowntime | null>(null);
  // Adding and removing report under the form, in one place.
  const save = useSave();
  const name = (id: number | null) => (id === null ? 'All machines' : (assets.find((a) => a.id === id)?.name ?? `Machine ${id}`));
  return (
    <section class="card stack" aria-labelledby="downtime-title">
      <h2 id="downtime-title">Planned downtime</h2>
      <p class="hint" style="margin:0">
        Maintenance, holidays, trials: time that is not planned production, so it counts neither as run nor as down.
      </p>
      <ErrorNote error={error} />
      {data && data.length > 0 && (
        <Table columns={['Machine', 'From', 'To', 'Note', { label: 'Actions', hidden: true }]}>
          {data.map((d) => (
            <tr key={d.id}>
              <td>{name(d.asset_id)}</td>
              <td>{formatDateTime(d.from, tz)}</td>
              <td>{formatDateTime(d.to, tz)}</td>
              <td>{d.note}</td>
              <td>
                <button type="button" onClick={() => setRemoving(d)} aria-label={`Remove planned downtime from ${formatDateTime(d.from, tz)}`}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <form
        class="row"
        aria-label="Add planned downtime"
        onSubmit={save.submit(async () => {
          const created = await api.addPlannedDowntime({
            asset_id: assetId ? Number(assetId) : null,
            from: parseLocalDateTime(from, tz),
            to: parseLocalDateTime(to, tz),
            note,
          });
          setData((list) => [...(list ?? []), created].sort((a, b) => a.from - b.from));
          setFrom('');
          setTo('');
          setNote('');
        })}
      >
        <label>
          Machine
          <select value={assetId} onChange={(e) => setAssetId(e.currentTarget.value)}>
            <option value="">All machines</option>
            {assets.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          From ({tz})
          <input type="datetime-local" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          To
          <input type="datetime-local" required value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
        <label>
          Note
          <input maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
        <button type="submit">Add planned downtime</button>
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
        <p>The time becomes planned production again, and the figures change with it.</p>
      </Confirm>
    </section>
  );
}
