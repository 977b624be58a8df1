// One stop part's reason and comment, given where the operator sees the stop: a bar of the
// timeline, a stopped tile of the board. A modal native <dialog> like <Confirm> (ui.tsx): focus
// stays inside, Escape cancels. The reasons are offered by category.

import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { api, type Reason, type Stop } from './api';
import { isAdmin, zone } from './session';
import { byCategory } from './station';
import { partText } from './stop-reason';
import { ErrorNote } from './ui';

/** The part to give a reason, and the machine it belongs to. */
export interface ReasonTarget {
  stop: Stop;
  machine: string;
}

/** The dialog's title, also the name the page's buttons open it by: "Reason for the stop of Press 1". */
export function reasonTitle(machine: string): string {
  return `Reason for the stop of ${machine}`;
}

export function ReasonDialog({
  target,
  reasons,
  onClose,
  onSaved,
}: {
  /** null: closed. */
  target: ReasonTarget | null;
  reasons: Reason[];
  onClose: () => void;
  /** After the server took it. */
  onSaved: (stop: Stop, reason_id: number | null, comment: string) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [reason, setReason] = useState('');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const stop = target?.stop ?? null;
  // Each opening starts from what the part has.
  useEffect(() => {
    setReason(stop?.reason_id?.toString() ?? '');
    setComment(stop?.comment ?? '');
    setError(null);
  }, [stop?.id]);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (target && !d.open) d.showModal();
    if (!target && d.open) d.close();
  }, [target]);
  const save = async () => {
    if (!stop || busy) return;
    const reasonId = reason === '' ? null : Number(reason);
    const text = comment.trim();
    setBusy(true);
    setError(null);
    try {
      await api.annotateStop(stop.id, reasonId, text);
      onSaved(stop, reasonId, text);
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const tz = zone.value;
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose} class="dialog reason-dialog">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <h2 id={titleId}>{target ? reasonTitle(target.machine) : 'Reason'}</h2>
        {stop && (
          <>
            <p class="hint">
              {partText(stop, tz, Date.now())}
              {stop.start !== stop.stop_start && ' (a later part of a split stop)'}
            </p>
            {reasons.length === 0 && (
              <p class="notice">
                No downtime reasons yet.{' '}
                {isAdmin.value ? (
                  <>
                    Add them under <a href="/settings#reasons">Settings</a>.
                  </>
                ) : (
                  'Ask an admin to add them under Settings.'
                )}
              </p>
            )}
            <div class="reason-fields">
              <div class="reason-field">
                <label for={`${titleId}-reason`}>Reason</label>
                <select id={`${titleId}-reason`} value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
                  <option value="">— none —</option>
                  {byCategory(reasons).map((c) => (
                    <optgroup key={c.category} label={c.category}>
                      {c.reasons.map((r) => (
                        <option key={r.id} value={r.id}>
                          {r.name}
                        </option>
                      ))}
                    </optgroup>
                  ))}
                </select>
              </div>
              <div class="reason-field">
                <label for={`${titleId}-comment`}>Comment</label>
                <input id={`${titleId}-comment`} maxLength={1000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
              </div>
            </div>
            <ErrorNote error={error} />
          </>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || !stop}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </dialog>
  );
}
