// Small shared pieces: notices, empty states, tables, confirmation dialogs, period pickers, async
// data, saving.

import type { ComponentChildren } from 'preact';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api';
import type { FieldErrors } from './field-errors';
import { holdUnsaved, navigate } from './router';
import { PERIODS, localDate, periodSpan, type PeriodKind, type Span } from './time';

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="notice error" role="alert">
      {errorText(error)}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <section class="empty">
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

/** A column of a <Table>: its heading, or the heading with how it shows. */
export type Column =
  | string
  | {
      label: ComponentChildren;
      /** Figures: aligned right. */
      num?: boolean;
      /** For screen readers only (the column of a row's buttons). */
      hidden?: boolean;
      /** `aria-sort` of a column the table can be sorted by. */
      sort?: 'ascending' | 'descending' | 'none';
    };

/**
 * A data table: the column headings, `children` as the rows of its body, `foot` as those of its
 * footer. In a scrolling frame, unless `bare` (a chart's table, under its chart). A `false`
 * column is left out, for columns only some users see.
 */
export function Table(props: {
  id?: string;
  /** Said to screen readers only. */
  caption?: string;
  columns: (Column | false)[];
  children: ComponentChildren;
  foot?: ComponentChildren;
  bare?: boolean;
  class?: string;
}) {
  const table = (
    <table id={props.id} class={props.class}>
      {props.caption && <caption class="visually-hidden">{props.caption}</caption>}
      <thead>
        <tr>
          {props.columns.map((column, i) => {
            if (column === false) return null;
            const c = typeof column === 'string' ? { label: column } : column;
            return (
              <th key={i} scope="col" class={c.num ? 'num' : undefined} aria-sort={c.sort}>
                {c.hidden ? <span class="visually-hidden">{c.label}</span> : c.label}
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
      {props.foot && <tfoot>{props.foot}</tfoot>}
    </table>
  );
  return props.bare ? table : <div class="table-wrap">{table}</div>;
}

/** Data loaded when `deps` change; `reload` re-runs it. The last request wins. */
export function useData<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [version, setVersion] = useState(0);
  const current = useRef(0);
  useEffect(() => {
    const mine = ++current.current;
    setError(null);
    load().then(
      (d) => {
        if (mine === current.current) setData(d);
      },
      (e: unknown) => {
        if (mine === current.current) setError(e);
      },
    );
  }, [...deps, version]);
  return { data, error, reload: () => setVersion((v) => v + 1), setData };
}

/**
 * One kind of save (a form's submit, a row's Save, a confirmed deletion): `run` clears the last
 * error, runs `save`, and keeps what it threw for an <ErrorNote> or, when it succeeded, the time
 * for a <Saved> note; `submit` does the same from a form. Validation that fails throws too, so
 * its message lands in the same place.
 */
export function useSave() {
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(0);
  const run = async (save: () => Promise<unknown>): Promise<void> => {
    setError(null);
    try {
      await save();
      setSaved(Date.now());
    } catch (err) {
      setError(err);
    }
  };
  /** `run` as a form's submit handler, in place of the browser's own submit. */
  const submit = (save: () => Promise<unknown>) => (e: Event) => {
    e.preventDefault();
    void run(save);
  };
  return { error, saved, run, submit, clearError: () => setError(null) };
}

/** "Saved." once `when` (a save's time, 0 for never) is set. */
export function Saved({ when }: { when: number }) {
  return when ? (
    <span class="hint" role="status">
      Saved.
    </span>
  ) : null;
}

/** A modal confirmation in a native <dialog>: focus is trapped and Escape cancels. */
export function Confirm(props: {
  open: boolean;
  title: string;
  children?: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={props.onCancel} class="dialog">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          props.onConfirm();
        }}
      >
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
        <div class="actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'danger' : 'primary'}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export interface Period {
  kind: PeriodKind;
  from: string;
  to: string;
}

export function periodFromQuery(query: URLSearchParams, now: number, zone: string): Period {
  const kind = (PERIODS.find((p) => p.kind === query.get('period'))?.kind ?? 'today') as PeriodKind;
  const today = localDate(now, zone);
  return { kind, from: query.get('from') ?? today, to: query.get('to') ?? today };
}

export function periodWindow(p: Period, now: number, zone: string): Span | null {
  try {
    return periodSpan(p.kind, now, zone, { from: p.from, to: p.to });
  } catch {
    return null;
  }
}

export function PeriodPicker({ value, onChange }: { value: Period; onChange: (p: Period) => void }) {
  return (
    <>
      <label>
        Period
        <select value={value.kind} onChange={(e) => onChange({ ...value, kind: e.currentTarget.value as PeriodKind })}>
          {PERIODS.map((p) => (
            <option key={p.kind} value={p.kind}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      {value.kind === 'custom' && (
        <>
          <label>
            From
            <input type="date" value={value.from} required onChange={(e) => onChange({ ...value, from: e.currentTarget.value })} />
          </label>
          <label>
            To
            <input type="date" value={value.to} required onChange={(e) => onChange({ ...value, to: e.currentTarget.value })} />
          </label>
        </>
      )}
    </>
  );
}

/** A code to copy (a device key, a command). */
export function CopyText({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span class="copy">
      <code>{text}</code>
      <button
        type="button"
        aria-label={`Copy ${label}`}
        onClick={() => {
          void navigator.clipboard?.writeText(text).then(() => setCopied(true));
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </span>
  );
}

/** Goes to `to` (replacing the history entry) once rendered. */
export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

/** Sets the document title; the app name comes last. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · assetlog`;
  }, [title]);
}

/**
 * A field's message (what to change), under the field. Its `id` is named by the field's
 * `aria-describedby` (see `useFieldMessages`), so a screen reader reads it with the field.
 */
export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p id={id} class="field-error">
      {message}
    </p>
  );
}

const CONTROLS = 'input, select, textarea, button';

/**
 * Focuses the first field marked invalid under `root`. A marked group (a fieldset, a group of
 * checkboxes) gives its first marked control, or else its first control.
 */
export function focusFirstInvalid(root: ParentNode | null | undefined): void {
  for (const marked of root?.querySelectorAll<HTMLElement>('[aria-invalid="true"]') ?? []) {
    if (marked.matches(CONTROLS)) return marked.focus();
    // Its marked controls come next in this list.
    if (marked.querySelector(`[aria-invalid="true"]:is(${CONTROLS})`)) continue;
    return marked.querySelector<HTMLElement>(CONTROLS)?.focus();
  }
}

/**
 * Messages at a form's fields: `errors` by field key, an id per key for `aria-describedby`,
 * and focus on the first marked field once they show. Put `ref` on the form (or the row that
 * acts as one), spread
 * `aria(keys)` on a field, render `error(key)` next to it.
 */
export function useFieldMessages<Form extends HTMLElement = HTMLFormElement>(errors: FieldErrors) {
  const prefix = useId();
  const ref = useRef<Form>(null);
  const [focusAsked, setFocusAsked] = useState(0);
  useLayoutEffect(() => {
    if (focusAsked) focusFirstInvalid(ref.current);
  }, [focusAsked]);
  const id = (key: string) => `${prefix}-${key.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  return {
    ref,
    id,
    /**
     * `aria-invalid` and `aria-describedby` of a field that the messages of `keys` are about;
     * `hint`: the id of a hint it is described by as well.
     */
    aria(keys: string[], hint?: string) {
      const marked = keys.filter((k) => errors[k]);
      const ids = [...marked.map(id), ...(hint ? [hint] : [])].join(' ');
      return { 'aria-invalid': marked.length ? ('true' as const) : undefined, 'aria-describedby': ids || undefined };
    },
    error: (key: string) => <FieldError id={id(key)} message={errors[key]} />,
    /** Focuses the first marked field after the next render (a failed save). */
    focusFirst: () => setFocusAsked((n) => n + 1),
  };
}

/**
 * While `dirty`, leaving the page asks first: another page of the app ("You have unsaved
 * changes to `what`. Leave without saving?"), and closing or reloading the tab. Saving or
 * undoing the edits (dirty false), or the form going away, ends it.
 */
export function useUnsavedWarning(dirty: boolean, what: string): void {
  // A layout effect: held before the next click can reach a link.
  useLayoutEffect(() => (dirty ? holdUnsaved(what) : undefined), [dirty, what]);
}
