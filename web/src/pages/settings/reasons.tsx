// Downtime reasons: what operators pick for a stop on the Stops page, edited in place. A refusal
// that names a field (an empty category, a reason that exists already) shows at that field; a
// reason typed or edited but not saved asks before the page is left.

import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, type Reason } from '../../api';
import { fieldErrorsOf, hasErrors, without, type FieldErrors } from '../../field-errors';
import { REASON_FIELDS } from '../../settings-fields';
import { edited } from '../../unsaved';
import { Confirm, ErrorNote, Table, useData, useFieldMessages, useSave, useUnsavedWarning } from '../../ui';

/** The page's own check: both fields, once trimmed. */
function checkReason(category: string, name: string): FieldErrors {
  const errors: FieldErrors = {};
  if (!category.trim()) errors.category = 'A reason needs a category';
  if (!name.trim()) errors.name = 'A reason needs a name';
  return errors;
}

function ReasonRow({ reason, onChange, onDelete }: { reason: Reason; onChange: (r: Reason) => void; onDelete: () => void }) {
  const [editing, setEditing] = useState(false);
  const [category, setCategory] = useState(reason.category);
  const [name, setName] = useState(reason.name);
  const save = useSave();
  const [errors, setErrors] = useState<FieldErrors>({});
  const f = useFieldMessages<HTMLTableRowElement>(errors);
  useUnsavedWarning(editing && edited([category, name], [reason.category, reason.name]), `the reason “${reason.name}”`);
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
    save.clearError();
    setErrors({});
    setEditing(false);
  };
  const submit = () =>
    save.run(async () => {
      const checks = checkReason(category, name);
      setErrors(checks);
      try {
        if (hasErrors(checks)) throw new Error('A reason needs a category and a name.');
        onChange(await api.updateReason(reason.id, { category: category.trim(), name: name.trim() }));
        setEditing(false);
      } catch (err) {
        const fields = hasErrors(checks) ? checks : fieldErrorsOf(err, REASON_FIELDS);
        setErrors(fields);
        if (hasErrors(fields)) f.focusFirst();
        throw err;
      }
    });
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
      void submit();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      cancel();
    }
  };
  return (
    <tr ref={f.ref}>
      <td>
        <input
          ref={first}
          aria-label={`Category of reason ${reason.name}`}
          required
          maxLength={100}
          value={category}
          onInput={(e) => {
            setCategory(e.currentTarget.value);
            setErrors((x) => without(x, ['category']));
          }}
          onKeyDown={keys}
          {...f.aria(['category'])}
        />
        {f.error('category')}
      </td>
      <td>
        <input
          aria-label={`Name of reason ${reason.name}`}
          required
          maxLength={100}
          value={name}
          onInput={(e) => {
            setName(e.currentTarget.value);
            setErrors((x) => without(x, ['name']));
          }}
          onKeyDown={keys}
          {...f.aria(['name'])}
        />
        {f.error('name')}
      </td>
      <td>
        <div class="row">
          <button type="button" class="primary" onClick={() => void submit()} aria-label={`Save reason ${reason.name}`}>
            Save
          </button>
          <button type="button" onClick={cancel} aria-label={`Cancel editing reason ${reason.name}`}>
            Cancel
          </button>
        </div>
        <ErrorNote error={save.error} />
      </td>
    </tr>
  );
}

export function Reasons() {
  const { data, error, setData } = useData(() => api.reasons(), []);
  const [category, setCategory] = useState('');
  const [name, setName] = useState('');
  const [deleting, setDeleting] = useState<Reason | null>(null);
  // Adding and deleting report under the form, in one place.
  const save = useSave();
  // The category stays for the next reason of the same kind: only a change to it is an edit.
  const [lastCategory, setLastCategory] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const f = useFieldMessages(errors);
  useUnsavedWarning(edited([category, name], [lastCategory, '']), 'a new downtime reason');
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
        <Table columns={['Category', 'Reason', { label: 'Actions', hidden: true }]}>
          {data.map((r) => (
            <ReasonRow
              key={r.id}
              reason={r}
              onChange={(changed) => setData((list) => list?.map((x) => (x.id === changed.id ? changed : x)) ?? null)}
              onDelete={() => setDeleting(r)}
            />
          ))}
        </Table>
      )}
      <form
        ref={f.ref}
        class="row fields"
        aria-label="Add a reason"
        onSubmit={save.submit(async () => {
          setErrors({});
          try {
            const created = await api.addReason(category, name);
            setData((list) => [...(list ?? []), created]);
            setName('');
            setLastCategory(category);
          } catch (err) {
            const fields = fieldErrorsOf(err, REASON_FIELDS);
            setErrors(fields);
            if (hasErrors(fields)) f.focusFirst();
            throw err;
          }
        })}
      >
        <div class="field">
          <label>
            Category
            <input
              required
              maxLength={100}
              list="reason-categories"
              value={category}
              onInput={(e) => {
                setCategory(e.currentTarget.value);
                setErrors((x) => without(x, ['category']));
              }}
              {...f.aria(['category'])}
            />
            <datalist id="reason-categories">
              {categories.map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          </label>
          {f.error('category')}
        </div>
        <div class="field">
          <label>
            Reason
            <input
              required
              maxLength={100}
              value={name}
              onInput={(e) => {
                setName(e.currentTarget.value);
                setErrors((x) => without(x, ['name']));
              }}
              {...f.aria(['name'])}
            />
          </label>
          {f.error('name')}
        </div>
        <button type="submit">Add reason</button>
      </form>
      <ErrorNote error={save.error} />
      <Confirm
        open={deleting !== null}
        title={`Delete the reason “${deleting?.name ?? ''}”?`}
        confirmLabel="Delete reason"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const r = deleting!;
          setDeleting(null);
          void save.run(async () => {
            await api.deleteReason(r.id);
            setData((list) => list?.filter((x) => x.id !== r.id) ?? null);
          });
        }}
      >
        <p>Stops that carry it count as unassigned again.</p>
      </Confirm>
    </section>
  );
}
