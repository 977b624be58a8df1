// Settings (admins): what shapes the numbers. The time zone that cuts days and shifts, the
// short-stop threshold, the weekly shift calendar with its breaks, planned downtime, and the
// downtime reasons operators pick from.

import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, type Asset, type PlannedDowntime, type Reason, type Settings, type Shift } from '../api';
import { loadSettings, zone } from '../session';
import { formatDateTime, parseLocalDateTime, timeZones } from '../time';
import { Confirm, ErrorNote, Loading, useData, useTitle } from '../ui';

const DAYS: [string, string][] = [
  ['mon', 'Mon'],
  ['tue', 'Tue'],
  ['wed', 'Wed'],
  ['thu', 'Thu'],
  ['fri', 'Fri'],
  ['sat', 'Sat'],
  ['sun', 'Sun'],
];

function Saved({ when }: { when: number }) {
  return when ? (
    <span class="hint" role="status">
      Saved.
    </span>
  ) : null;
}

function General() {
  const { data, error } = useData(() => api.settings(), []);
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what="settings" />;
  return <GeneralForm initial={data} />;
}

function GeneralForm({ initial }: { initial: Settings }) {
  const [tz, setTz] = useState(initial.timezone);
  const [threshold, setThreshold] = useState(String(initial.short_stop_threshold_s));
  const [saved, setSaved] = useState(0);
  const [saveError, setSaveError] = useState<unknown>(null);
  return (
    <form
      class="card stack"
      aria-labelledby="general-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setSaveError(null);
        try {
          await api.updateSettings({ timezone: tz, short_stop_threshold_s: Number(threshold) });
          await loadSettings();
          setSaved(Date.now());
        } catch (err) {
          setSaveError(err);
        }
      }}
    >
      <h2 id="general-title">Plant</h2>
      <div class="row">
        <label>
          Time zone
          <select value={tz} onChange={(e) => setTz(e.currentTarget.value)}>
            {timeZones(tz).map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </label>
        <label>
          Short-stop threshold (seconds)
          <input type="number" min={1} max={86400} required value={threshold} onInput={(e) => setThreshold(e.currentTarget.value)} />
        </label>
      </div>
      <p class="hint" style="margin:0">
        Days, weeks and shifts are cut in this time zone. A stop shorter than the threshold counts as short (a machine can set its own
        threshold on the Loggers page).
      </p>
      <ErrorNote error={saveError} />
      <div class="row">
        <button class="primary" type="submit">
          Save
        </button>
        <Saved when={saved} />
      </div>
    </form>
  );
}

function ShiftEditor({ shift, index, onChange, onRemove }: { shift: Shift; index: number; onChange: (s: Shift) => void; onRemove: () => void }) {
  const n = index + 1;
  return (
    <fieldset>
      <legend>Shift {n}</legend>
      <div class="row">
        <label>
          Name
          <input required maxLength={50} value={shift.name} onInput={(e) => onChange({ ...shift, name: e.currentTarget.value })} />
        </label>
        <label>
          Starts
          <input type="time" required value={shift.start} onInput={(e) => onChange({ ...shift, start: e.currentTarget.value })} />
        </label>
        <label>
          Ends
          <input type="time" required value={shift.end} onInput={(e) => onChange({ ...shift, end: e.currentTarget.value })} />
        </label>
      </div>
      <div class="days" role="group" aria-label={`Days shift ${n} starts on`}>
        {DAYS.map(([value, label]) => (
          <label class="inline" key={value}>
            <input
              type="checkbox"
              checked={shift.days.includes(value)}
              onChange={(e) =>
                onChange({
                  ...shift,
                  days: e.currentTarget.checked ? DAYS.map(([d]) => d).filter((d) => d === value || shift.days.includes(d)) : shift.days.filter((d) => d !== value),
                })
              }
            />
            {label}
          </label>
        ))}
      </div>
      {shift.breaks.map((b, i) => (
        <div class="row" key={i}>
          <label>
            Break from
            <input
              type="time"
              required
              value={b.start}
              onInput={(e) => onChange({ ...shift, breaks: shift.breaks.map((x, j) => (j === i ? { ...x, start: e.currentTarget.value } : x)) })}
            />
          </label>
          <label>
            to
            <input
              type="time"
              required
              value={b.end}
              onInput={(e) => onChange({ ...shift, breaks: shift.breaks.map((x, j) => (j === i ? { ...x, end: e.currentTarget.value } : x)) })}
            />
          </label>
          <button type="button" onClick={() => onChange({ ...shift, breaks: shift.breaks.filter((_, j) => j !== i) })}>
            Remove break
          </button>
        </div>
      ))}
      <div class="row" style="margin-top:0.5rem">
        <button type="button" onClick={() => onChange({ ...shift, breaks: [...shift.breaks, { start: '12:00', end: '12:30' }] })}>
          Add break
        </button>
        <button type="button" onClick={onRemove}>
          Remove shift {n}
        </button>
      </div>
    </fieldset>
  );
}

function Shifts() {
  const { data, error } = useData(() => api.shifts(), []);
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what="shifts" />;
  return <ShiftsForm initial={data.map((s) => ({ ...s, breaks: s.breaks ?? [] }))} />;
}

function ShiftsForm({ initial }: { initial: Shift[] }) {
  const [shifts, setShifts] = useState<Shift[]>(initial);
  const [saved, setSaved] = useState(0);
  const [saveError, setSaveError] = useState<unknown>(null);
  return (
    <form
      class="card stack"
      aria-labelledby="shifts-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setSaveError(null);
        try {
          setShifts(await api.setShifts(shifts));
          setSaved(Date.now());
        } catch (err) {
          setSaveError(err);
        }
      }}
    >
      <h2 id="shifts-title">Shifts and breaks</h2>
      <p class="hint" style="margin:0">
        {shifts.length === 0
          ? 'No shifts: every hour counts as planned production. Add shifts to count only the time you plan to produce.'
          : 'Only time inside a shift, outside its breaks, counts as planned. A shift that ends before it starts runs past midnight.'}
      </p>
      {shifts.map((s, i) => (
        <ShiftEditor
          key={i}
          shift={s}
          index={i}
          onChange={(changed) => setShifts(shifts.map((x, j) => (j === i ? changed : x)))}
          onRemove={() => setShifts(shifts.filter((_, j) => j !== i))}
        />
      ))}
      <ErrorNote error={saveError} />
      <div class="row">
        <button
          type="button"
          onClick={() => setShifts([...shifts, { name: `Shift ${shifts.length + 1}`, days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '06:00', end: '14:00', breaks: [] }])}
        >
          Add shift
        </button>
        <button class="primary" type="submit">
          Save shifts
        </button>
        <Saved when={saved} />
      </div>
    </form>
  );
}

function Downtime({ assets }: { assets: Asset[] }) {
  const tz = zone.value;
  const { data, error, setData } = useData(() => api.plannedDowntime(), []);
  const [assetId, setAssetId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [note, setNote] = useState('');
  const [addError, setAddError] = useState<unknown>(null);
  const [removing, setRemoving] = useState<PlannedDowntime | null>(null);
  const name = (id: number | null) => (id === null ? 'All machines' : (assets.find((a) => a.id === id)?.name ?? `Machine ${id}`));
  return (
    <section class="card stack" aria-labelledby="downtime-title">
      <h2 id="downtime-title">Planned downtime</h2>
      <p class="hint" style="margin:0">
        Maintenance, holidays, trials: time that is not planned production, so it counts neither as run nor as down.
      </p>
      <ErrorNote error={error} />
      {data && data.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Machine</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Note</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
      <form
        class="row"
        aria-label="Add planned downtime"
        onSubmit={async (e) => {
          e.preventDefault();
          setAddError(null);
          try {
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
          } catch (err) {
            setAddError(err);
          }
        }}
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
      <ErrorNote error={addError} />
      <Confirm
        open={removing !== null}
        title="Remove this planned downtime?"
        confirmLabel="Remove"
        danger
        onCancel={() => setRemoving(null)}
        onConfirm={async () => {
          const d = removing!;
          setRemoving(null);
          try {
            await api.deletePlannedDowntime(d.id);
            setData((list) => list?.filter((x) => x.id !== d.id) ?? null);
          } catch (err) {
            setAddError(err);
          }
        }}
      >
        <p>The time becomes planned production again, and the figures change with it.</p>
      </Confirm>
    </section>
  );
}

function ReasonRow({ reason, onChange, onDelete }: { reason: Reason; onChange: (r: Reason) => void; onDelete: () => void }) {
  const [editing, setEditing] = useState(false);
  const [category, setCategory] = useState(reason.category);
  const [name, setName] = useState(reason.name);
  const [error, setError] = useState<unknown>(null);
  const first = useRef<HTMLInputElement>(null);
  const edit = useRef<HTMLButtonElement>(null);
  // Focus follows the row: into the first field when editing starts, back to Edit when it ends.
  const started = useRef(false);
  useLayoutEffect(() => {
    if (editing) first.current?.focus();
    else if (started.current) edit.current?.focus();
    started.current = true;
  }, [editing]);
  const cancel = () => {
    setCategory(reason.category);
    setName(reason.name);
    setError(null);
    setEditing(false);
  };
  const save = async () => {
    setError(null);
    if (!category.trim() || !name.trim()) {
      setError(new Error('A reason needs a category and a name.'));
      return;
    }
    try {
      onChange(await api.updateReason(reason.id, { category: category.trim(), name: name.trim() }));
      setEditing(false);
    } catch (err) {
      setError(err);
    }
  };
  if (!editing) {
    return (
      <tr>
        <td>{reason.category}</td>
        <td>{reason.name}</td>
        <td>
          <div class="row">
            <button type="button" ref={edit} onClick={() => setEditing(true)} aria-label={`Edit reason ${reason.name}`}>
              Edit
            </button>
            <button type="button" onClick={onDelete} aria-label={`Delete reason ${reason.name}`}>
              Delete
            </button>
          </div>
        </td>
      </tr>
    );
  }
  // A row cannot hold a form, so Enter and Escape are wired by hand.
  const keys = (e: KeyboardEvent) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void save();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      cancel();
    }
  };
  return (
    <tr>
      <td>
        <input
          ref={first}
          aria-label={`Category of reason ${reason.name}`}
          required
          maxLength={100}
          value={category}
          onInput={(e) => setCategory(e.currentTarget.value)}
          onKeyDown={keys}
        />
      </td>
      <td>
        <input aria-label={`Name of reason ${reason.name}`} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} onKeyDown={keys} />
      </td>
      <td>
        <div class="row">
          <button type="button" class="primary" onClick={() => void save()} aria-label={`Save reason ${reason.name}`}>
            Save
          </button>
          <button type="button" onClick={cancel} aria-label={`Cancel editing reason ${reason.name}`}>
            Cancel
          </button>
        </div>
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}

function Reasons() {
  const { data, error, setData } = useData(() => api.reasons(), []);
  const [category, setCategory] = useState('');
  const [name, setName] = useState('');
  const [addError, setAddError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<Reason | null>(null);
  const categories = [...new Set((data ?? []).map((r) => r.category))];
  return (
    <section class="card stack" id="reasons" aria-labelledby="reasons-title">
      <h2 id="reasons-title">Downtime reasons</h2>
      <p class="hint" style="margin:0">
        What operators pick for a stop on the Stops page; the Pareto on the Analytics page adds down time up by reason.
      </p>
      <ErrorNote error={error} />
      {data && data.length === 0 && <p>No reasons yet. Start with a few, such as “Material: Waiting for material” or “Tooling: Tool change”.</p>}
      {data && data.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Category</th>
                <th scope="col">Reason</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((r) => (
                <ReasonRow
                  key={r.id}
                  reason={r}
                  onChange={(changed) => setData((list) => list?.map((x) => (x.id === changed.id ? changed : x)) ?? null)}
                  onDelete={() => setDeleting(r)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form
        class="row"
        aria-label="Add a reason"
        onSubmit={async (e) => {
          e.preventDefault();
          setAddError(null);
          try {
            const created = await api.addReason(category, name);
            setData((list) => [...(list ?? []), created]);
            setName('');
          } catch (err) {
            setAddError(err);
          }
        }}
      >
        <label>
          Category
          <input required maxLength={100} list="reason-categories" value={category} onInput={(e) => setCategory(e.currentTarget.value)} />
          <datalist id="reason-categories">
            {categories.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </label>
        <label>
          Reason
          <input required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit">Add reason</button>
      </form>
      <ErrorNote error={addError} />
      <Confirm
        open={deleting !== null}
        title={`Delete the reason “${deleting?.name ?? ''}”?`}
        confirmLabel="Delete reason"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          const r = deleting!;
          setDeleting(null);
          try {
            await api.deleteReason(r.id);
            setData((list) => list?.filter((x) => x.id !== r.id) ?? null);
          } catch (err) {
            setAddError(err);
          }
        }}
      >
        <p>Stops that carry it count as unassigned again.</p>
      </Confirm>
    </section>
  );
}

export function SettingsPage() {
  useTitle('Settings');
  const assets = useData(() => api.assets(), []);
  return (
    <main id="main" class="stack">
      <div class="page-head" style="margin:0">
        <h1>Settings</h1>
      </div>
      <General />
      <Reasons />
      <Shifts />
      <Downtime assets={assets.data ?? []} />
    </main>
  );
}
