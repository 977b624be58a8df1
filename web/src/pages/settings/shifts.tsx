// The weekly shift calendar with its breaks: only time inside a shift, outside its breaks, is
// planned production. A change applies from a chosen day on (today unless the admin picks
// another); the days before keep the calendar they had, listed below the form.

import { useState } from 'preact/hooks';
import { api, type DatedShifts, type Shift } from '../../api';
import { zone } from '../../session';
import { localDate } from '../../time';
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
  const history = useData(() => api.shiftCalendars(), []);
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what="shifts" />;
  return (
    <>
      <ShiftsForm initial={data.map((s) => ({ ...s, breaks: s.breaks ?? [] }))} onSaved={history.reload} />
      {history.data && <CalendarHistory calendars={history.data} />}
    </>
  );
}

function describeShifts(shifts: Shift[]): string {
  return shifts.length ? shifts.map((s) => `${s.name} ${s.start}–${s.end} (${s.days.join(', ')})`).join('; ') : 'no shifts: every hour planned';
}

/** Which calendar applied when: the past keeps the calendar it had. */
function CalendarHistory({ calendars }: { calendars: DatedShifts[] }) {
  if (calendars.length < 2) return null;
  return (
    <section class="card" aria-labelledby="calendar-history-title">
      <h3 id="calendar-history-title">Calendars by date</h3>
      <ul id="calendar-history">
        {calendars.map((c, i) => {
          const next = calendars[i + 1]?.from;
          const when = c.from ? (next ? `${c.from} to the day before ${next}` : `from ${c.from}`) : next ? `before ${next}` : 'always';
          return (
            <li key={c.from ?? 'first'}>
              <strong>{when}</strong>: {describeShifts(c.shifts)}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function ShiftsForm({ initial, onSaved }: { initial: Shift[]; onSaved: () => void }) {
  const [shifts, setShifts] = useState<Shift[]>(initial);
  const today = localDate(Date.now(), zone.value);
  const [from, setFrom] = useState(today);
  const save = useSave();
  return (
    <form
      class="card stack"
      aria-labelledby="shifts-title"
      onSubmit={save.submit(async () => {
        setShifts(await api.setShifts(shifts, from));
        onSaved();
      })}
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
      <label>
        Applies from
        <input type="date" id="shifts-from" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} aria-describedby="shifts-from-hint" />
      </label>
      <p class="hint" id="shifts-from-hint" style="margin:0">
        {from < today
          ? `Days from ${from} on are counted again with these shifts; the days before keep theirs.`
          : 'The days before keep the calendar they had, so last week\'s figures stay as they were.'}
      </p>
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
