// The weekly shift calendar with its breaks: only time inside a shift, outside its breaks, is
// planned production. A change applies from a chosen day on (today unless the admin picks
// another); the days before keep the calendar they had, listed below the form. What is wrong
// shows at the field it is about, from the page's own checks before sending and from the
// server's refusal after (`shift-checks.ts`); edits not yet saved ask before the page is left.

import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, errorText, type DatedShifts, type Shift } from '../../api';
import { hasErrors, sentence, without, type FieldErrors } from '../../field-errors';
import { zone } from '../../session';
import { checkShifts, checksSummary, shiftKey, shiftOfKey, shiftRefusal } from '../../shift-checks';
import { localDate } from '../../time';
import { nextShift, TIME_PATTERN } from '../../shifts';
import { edited } from '../../unsaved';
import { ErrorNote, Loading, Saved, useData, useFieldMessages, useSave, useUnsavedWarning } from '../../ui';

const DAYS: [string, string][] = [
  ['mon', 'Mon'],
  ['tue', 'Tue'],
  ['wed', 'Wed'],
  ['thu', 'Thu'],
  ['fri', 'Fri'],
  ['sat', 'Sat'],
  ['sun', 'Sun'],
];

/** HH:MM as the server takes it: 00:00 to 23:59, and 24:00 for midnight at the end of a day. */
const TIME_INPUT_PATTERN = `${TIME_PATTERN}|24:00`;

type Aria = ReturnType<ReturnType<typeof useFieldMessages>['aria']>;

/** A time of day in 24 h ("HH:MM"), whatever the browser's locale would make of a time input. */
function TimeInput({ value, onInput, onBlur, aria }: { value: string; onInput: (value: string) => void; onBlur: () => void; aria: Aria }) {
  return (
    <input
      required
      inputMode="numeric"
      pattern={TIME_INPUT_PATTERN}
      placeholder="HH:MM"
      title="24-hour time, HH:MM"
      maxLength={5}
      size={6}
      value={value}
      onInput={(e) => onInput(e.currentTarget.value)}
      onBlur={onBlur}
      {...aria}
    />
  );
}

function ShiftEditor(props: {
  shift: Shift;
  index: number;
  f: ReturnType<typeof useFieldMessages>;
  onChange: (s: Shift) => void;
  onRemove: () => void;
  /** The person left a field: its own checks show from now on. */
  onLeave: (...keys: string[]) => void;
}) {
  const { shift, index: i, f, onChange, onLeave } = props;
  const n = i + 1;
  const k = shiftKey;
  const setBreak = (j: number, change: Partial<Shift['breaks'][number]>) => onChange({ ...shift, breaks: shift.breaks.map((x, m) => (m === j ? { ...x, ...change } : x)) });
  return (
    <fieldset {...f.aria([k.shift(i), k.times(i)])}>
      <legend>Shift {n}</legend>
      {f.error(k.shift(i))}
      <div class="row fields">
        <div class="field">
          <label>
            Name
            <input required maxLength={50} value={shift.name} onInput={(e) => onChange({ ...shift, name: e.currentTarget.value })} onBlur={() => onLeave(k.name(i))} {...f.aria([k.name(i)])} />
          </label>
          {f.error(k.name(i))}
        </div>
        <div class="field">
          <label>
            Starts
            <TimeInput value={shift.start} onInput={(start) => onChange({ ...shift, start })} onBlur={() => onLeave(k.start(i))} aria={f.aria([k.start(i), k.times(i)])} />
          </label>
          {f.error(k.start(i))}
        </div>
        <div class="field">
          <label>
            Ends
            <TimeInput value={shift.end} onInput={(end) => onChange({ ...shift, end })} onBlur={() => onLeave(k.end(i))} aria={f.aria([k.end(i), k.times(i)])} />
          </label>
          {f.error(k.end(i))}
        </div>
      </div>
      {f.error(k.times(i))}
      <div class="days" role="group" aria-label={`Days shift ${n} starts on`} {...f.aria([k.days(i)])}>
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
      {f.error(k.days(i))}
      {shift.breaks.map((b, j) => (
        <Fragment key={j}>
          <div class="row fields">
            <div class="field">
              <label>
                Break from
                <TimeInput value={b.start} onInput={(start) => setBreak(j, { start })} onBlur={() => onLeave(k.breakStart(i, j))} aria={f.aria([k.breakStart(i, j), k.break(i, j)])} />
              </label>
              {f.error(k.breakStart(i, j))}
            </div>
            <div class="field">
              <label>
                to
                <TimeInput value={b.end} onInput={(end) => setBreak(j, { end })} onBlur={() => onLeave(k.breakEnd(i, j), k.break(i, j))} aria={f.aria([k.breakEnd(i, j), k.break(i, j)])} />
              </label>
              {f.error(k.breakEnd(i, j))}
            </div>
            <button type="button" onClick={() => onChange({ ...shift, breaks: shift.breaks.filter((_, m) => m !== j) })}>
              Remove break
            </button>
          </div>
          {f.error(k.break(i, j))}
        </Fragment>
      ))}
      <div class="row" style="margin-top:0.5rem">
        <button type="button" onClick={() => onChange({ ...shift, breaks: [...shift.breaks, { start: '12:00', end: '12:30' }] })} {...f.aria([k.breaks(i)])}>
          Add break
        </button>
        <button type="button" onClick={props.onRemove}>
          Remove shift {n}
        </button>
      </div>
      {f.error(k.breaks(i))}
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

/** The keys of `errors` about shift `i`; with any about its hours, those of every shift (an overlap is about two). */
function keysOfShift(errors: FieldErrors, i: number): string[] {
  const mine = Object.keys(errors).filter((key) => shiftOfKey(key) === i);
  return mine.some((key) => key.endsWith('.times')) ? [...mine, ...Object.keys(errors).filter((key) => key.endsWith('.times'))] : mine;
}

function ShiftsForm({ initial, onSaved }: { initial: Shift[]; onSaved: () => void }) {
  const today = localDate(Date.now(), zone.value);
  const [shifts, setShifts] = useState<Shift[]>(initial);
  const [from, setFrom] = useState(today);
  // What is stored: edits are what differs from it.
  const [saved, setSaved] = useState({ shifts: initial, from: today });
  // The server's refusal, read onto the fields it names, until those fields change.
  const [refused, setRefused] = useState<FieldErrors>({});
  // The page's own checks show at a field once the person has left it, and everywhere once a save was tried.
  const [left, setLeft] = useState<ReadonlySet<string>>(new Set());
  const [tried, setTried] = useState(false);
  const save = useSave();
  const checks = checkShifts(shifts, from);
  const shown: FieldErrors = { ...(tried ? checks : Object.fromEntries(Object.entries(checks).filter(([key]) => left.has(key)))), ...refused };
  const f = useFieldMessages(shown);
  useUnsavedWarning(edited({ shifts, from }, saved), 'the shifts');

  /** An edit: the refusal's messages about what changed go, and so does the summary once no message is left. */
  const edit = (next: Shift[], nextFrom: string, about: string[]) => {
    setShifts(next);
    setFrom(nextFrom);
    const rest = without(refused, about);
    if (rest !== refused) setRefused(rest);
    if (save.error && !hasErrors(rest) && !hasErrors(checkShifts(next, nextFrom))) save.clearError();
  };
  // Adding or removing a shift or a break moves the fields the messages are keyed by.
  const restructure = (next: Shift[]) => {
    setShifts(next);
    setRefused({});
    setLeft(new Set());
    if (save.error && (!tried || !hasErrors(checkShifts(next, from)))) save.clearError();
  };
  const change = (i: number, changed: Shift) => {
    const next = shifts.map((x, j) => (j === i ? changed : x));
    if (changed.breaks.length !== shifts[i]!.breaks.length) restructure(next);
    else edit(next, from, keysOfShift(refused, i));
  };

  return (
    <form
      ref={f.ref}
      class="card stack"
      aria-labelledby="shifts-title"
      // The page's own checks speak at the fields, in its words, rather than in the browser's bubbles.
      noValidate
      onSubmit={save.submit(async () => {
        setTried(true);
        setRefused({});
        if (hasErrors(checks)) {
          f.focusFirst();
          throw new Error(checksSummary(checks, shifts));
        }
        try {
          const stored = await api.setShifts(shifts, from);
          setShifts(stored);
          setSaved({ shifts: stored, from });
          setTried(false);
          setLeft(new Set());
          onSaved();
        } catch (err) {
          if (err instanceof ApiError) {
            const fields = err.code === 'invalid_shifts' ? shiftRefusal(err.message, shifts) : err.code === 'invalid_query' ? { [shiftKey.from]: sentence(err.message) } : {};
            setRefused(fields);
            if (hasErrors(fields)) f.focusFirst();
          }
          // The server's words, after what the summary is about.
          throw new Error(`Not saved: ${errorText(err)}`);
        }
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
          f={f}
          onChange={(changed) => change(i, changed)}
          onRemove={() => restructure(shifts.filter((_, j) => j !== i))}
          onLeave={(...keys) => setLeft((l) => (keys.every((key) => l.has(key)) ? l : new Set([...l, ...keys])))}
        />
      ))}
      <div class="field">
        <label>
          Applies from
          <input
            type="date"
            id="shifts-from"
            required
            value={from}
            onInput={(e) => edit(shifts, e.currentTarget.value, [shiftKey.from])}
            onBlur={() => setLeft((l) => (l.has(shiftKey.from) ? l : new Set([...l, shiftKey.from])))}
            {...f.aria([shiftKey.from], 'shifts-from-hint')}
          />
        </label>
        {f.error(shiftKey.from)}
      </div>
      <p class="hint" id="shifts-from-hint" style="margin:0">
        {from < today
          ? `Days from ${from} on are counted again with these shifts; the days before keep theirs.`
          : 'The days before keep the calendar they had, so last week\'s figures stay as they were.'}
      </p>
      <ErrorNote error={save.error} />
      <div class="row">
        <button type="button" onClick={() => restructure([...shifts, nextShift(shifts)])}>
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
