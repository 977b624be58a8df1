// Fields for a local date and time in 24 h, whatever the browser's locale: a date picker beside
// an HH:MM text field (a `datetime-local` or `time` input shows AM/PM in en-US). The rules and
// the arithmetic are in datetime.ts.

import type { ComponentChildren } from 'preact';
import { TIME_SECONDS_PATTERN, type LocalDateTime } from './datetime';
import { TIME_PATTERN } from './shifts';

/** A time of day in 24 h ("HH:MM", or "HH:MM:SS" with `seconds`). */
export function TimeField(props: {
  value: string;
  onInput: (value: string) => void;
  required?: boolean;
  seconds?: boolean;
  /** Its accessible name when no <label> wraps it. */
  label?: string;
}) {
  return (
    <input
      class="time-field"
      required={props.required}
      inputMode="numeric"
      pattern={props.seconds ? TIME_SECONDS_PATTERN : TIME_PATTERN}
      placeholder="HH:MM"
      title={props.seconds ? '24-hour time, HH:MM or HH:MM:SS' : '24-hour time, HH:MM'}
      maxLength={props.seconds ? 8 : 5}
      size={props.seconds ? 8 : 6}
      aria-label={props.label}
      autoComplete="off"
      value={props.value}
      onInput={(e) => props.onInput(e.currentTarget.value)}
    />
  );
}

/**
 * A local date and time, as a group named `legend` (e.g. "From (Europe/Berlin)") holding a date
 * input named "`name` date" and a 24-hour time field named "`name` time".
 */
export function DateTimeInput(props: {
  name: string;
  legend?: ComponentChildren;
  value: LocalDateTime;
  onChange: (value: LocalDateTime) => void;
  required?: boolean;
  seconds?: boolean;
}) {
  const { value, onChange } = props;
  return (
    <fieldset class="datetime">
      <legend>{props.legend ?? props.name}</legend>
      <span class="datetime-fields">
        <input type="date" aria-label={`${props.name} date`} required={props.required} value={value.date} onInput={(e) => onChange({ ...value, date: e.currentTarget.value })} />
        <TimeField label={`${props.name} time`} required={props.required} seconds={props.seconds} value={value.time} onInput={(time) => onChange({ ...value, time })} />
      </span>
    </fieldset>
  );
}
