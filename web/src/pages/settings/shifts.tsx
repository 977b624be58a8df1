// The weekly shift calendar with its breaks: only time inside a shift, outside its breaks, is
// planned production.

import { useState } from 'preact/hooks';
import { api, type Shift } from '../../api';
import { nextShift, TIME_PATTERN } from '../../shifts';
import { ErrorNote, Loading, Saved, useData, useSave } from '../../ui';

const DAYS: [string, string][] = [
  ['mon', 'Mon'],
  ['tue', 'Tue'],
  ['wed', 'Wed'],
  ['thu', 'Thu'],
  ['fri', 'Fri'],
  ['sat', 'Sat'],
  ['sun', 'Sun'],
];

/** A time of day in 24 h ("HH:MM"), whatever the browser's locale would make of a time input. */
function TimeInput({ value, onInput }: { value: string; onInput: (value: string) => void }) {
  return (
    <input
      required
      inputMode="numeric"
      pattern={TIME_PATTERN}
      placeholder="HH:MM"
      title="24-hour time, HH:MM"
      maxLength={5}
      size={6}
      value={value}
      onInput={(e) => onInput(e.currentTarget.value)}
    />
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
          <TimeInput value={shift.start} onInput={(start) => onChange({ ...shift, start })} />
        </label>
        <label>
          Ends
          <TimeInput value={shift.end} onInput={(end) => onChange({ ...shift, end })} />
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
            <TimeInput value={b.start} onInput={(start) => onChange({ ...shift, breaks: shift.breaks.map((x, j) => (j === i ? { ...x, start } : x)) })} />
          </label>
          <label>
            to
            <TimeInput value={b.end} onInput={(end) => onChange({ ...shift, breaks: shift.breaks.map((x, j) => (j === i ? { ...x, end } : x)) })} />
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

export function Shifts() {
  const { data, error } = useData(() => api.shifts(), []);
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what="shifts" />;
  return <ShiftsForm initial={data.map((s) => ({ ...s, breaks: s.breaks ?? [] }))} />;
}

function ShiftsForm({ initial }: { initial: Shift[] }) {
  const [shifts, setShifts] = useState<Shift[]>(initial);
  const save = useSave();
  return (
    <form class="card stack" aria-labelledby="shifts-title" onSubmit={save.submit(async () => setShifts(await api.setShifts(shifts)))}>
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
      <ErrorNote error={save.error} />
      <div class="row">
        <button
          type="button"
          onClick={() => setShifts([...shifts, nextShift(shifts)])}
        >
          Add shift
        </button>
        <button class="primary" type="submit">
          Save shifts
        </button>
        <Saved when={save.saved} />
      </div>
    </form>
  );
}
