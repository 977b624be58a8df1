// Alert rules: when an alert opens (a long stop, a logger offline, availability below a mark),
// for which machines, and whom it tells, then whom it tells next when nobody acknowledges it.
// The form shows the fields of the chosen kind; `alert-rules.ts` holds what the server takes. A
// refusal that names a field shows at it; a rule typed or edited but not saved asks before the
// page is left.

import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import {
  RULE_KINDS,
  describeCondition,
  emptyRuleForm,
  parseRuleForm,
  plannedTimeApplies,
  ruleBody,
  ruleToForm,
  secondsHint,
  toggle,
  type RuleForm,
} from '../../alert-rules';
import { api, type AlertChannel, type AlertRule, type Asset, type RuleKind } from '../../api';
import { fieldErrorsOf, hasErrors, without, type FieldErrors } from '../../field-errors';
import { formatDuration } from '../../format';
import { ruleFields } from '../../settings-fields';
import { onLive } from '../../store';
import { edited } from '../../unsaved';
import { Confirm, ErrorNote, Loading, Table, useData, useFieldMessages, useSave, useUnsavedWarning } from '../../ui';

type Aria = ReturnType<ReturnType<typeof useFieldMessages>['aria']>;

/** A group of checkboxes choosing ids, in a fieldset with its legend (and its message, when it has one). */
function Checks(props: {
  legend: string;
  options: { id: number; label: string }[];
  value: number[];
  onChange: (ids: number[]) => void;
  empty: string;
  aria?: Aria;
  error?: ComponentChildren;
}) {
  return (
    <fieldset {...props.aria}>
      <legend>{props.legend}</legend>
      {props.options.length === 0 ? (
        <p class="hint" style="margin:0">
          {props.empty}
        </p>
      ) : (
        <div class="checks">
          {props.options.map((o) => (
            <label class="inline" key={o.id}>
              <input type="checkbox" checked={props.value.includes(o.id)} onChange={(e) => props.onChange(toggle(props.value, o.id, e.currentTarget.checked))} />
              {o.label}
            </label>
          ))}
        </div>
      )}
      {props.error}
    </fieldset>
  );
}

/** A seconds field with how long that is beside it, and its message under it. */
function SecondsField(props: {
  label: string;
  value: string;
  required?: boolean;
  min: number;
  onInput: (v: string) => void;
  note?: string;
  aria: Aria;
  error: ComponentChildren;
}) {
  const hint = secondsHint(props.value);
  return (
    <div class="field">
      <label>
        <span>
          {props.label} {props.note && <span class="hint">{props.note}</span>}
        </span>
        <input type="number" min={props.min} step={1} required={props.required} value={props.value} onInput={(e) => props.onInput(e.currentTarget.value)} {...props.aria} />
        <span class="hint" aria-live="polite">
          {hint && `= ${hint}`}
        </span>
      </label>
      {props.error}
    </div>
  );
}

/** The messages a change to these fields of the form makes stale. */
function staleKeys(change: Partial<RuleForm>): string[] {
  const keys: string[] = Object.keys(change);
  if ('kind' in change) keys.push('stopS', 'offlineDelayS', 'pct', 'onlyInPlannedTime');
  if ('allMachines' in change) keys.push('assetIds');
  if ('escalate' in change) keys.push('escalateAfterS', 'escalateChannelIds');
  return keys;
}

function RuleEditor(props: { editing: AlertRule | null; assets: Asset[]; channels: AlertChannel[]; onSaved: (r: AlertRule) => void; onCancel: () => void }) {
  const { editing } = props;
  const [initial] = useState<RuleForm>(() => (editing ? ruleToForm(editing) : emptyRuleForm()));
  const [form, setForm] = useState<RuleForm>(initial);
  const save = useSave();
  const [errors, setErrors] = useState<FieldErrors>({});
  const f = useFieldMessages(errors);
  useUnsavedWarning(edited(form, initial), editing ? `the rule “${editing.name}”` : 'a new alert rule');
  const first = useRef<HTMLInputElement>(null);
  const set = (change: Partial<RuleForm>) => {
    setForm({ ...form, ...change });
    setErrors((x) => without(x, staleKeys(change)));
  };
  useLayoutEffect(() => {
    if (editing) first.current?.focus();
  }, [editing]);
  const channelOptions = props.channels.map((c) => ({ id: c.id, label: c.name }));
  const noChannels = 'No channels yet: add one above first.';
  const title = editing ? `Edit the rule “${editing.name}”` : 'Add a rule';
  return (
    <form
      ref={f.ref}
      class="stack"
      aria-label={title}
      onSubmit={save.submit(async () => {
        setErrors({});
        try {
          const parsed = parseRuleForm(form);
          if ('error' in parsed) throw new Error(parsed.error);
          const saved = editing ? await api.updateAlertRule(editing.id, parsed.ok) : await api.addAlertRule(parsed.ok);
          props.onSaved(saved);
          if (!editing) setForm(emptyRuleForm());
        } catch (err) {
          const fields = fieldErrorsOf(err, ruleFields(form.kind));
          setErrors(fields);
          if (hasErrors(fields)) f.focusFirst();
          throw err;
        }
      })}
    >
      <h3 style="margin:0">{title}</h3>
      <div class="row fields">
        <div class="field">
          <label>
            Name
            <input ref={first} required maxLength={100} value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} {...f.aria(['name'])} />
          </label>
          {f.error('name')}
        </div>
        <div class="field">
          <label>
            Condition
            <select value={form.kind} onChange={(e) => set({ kind: e.currentTarget.value as RuleKind })} {...f.aria(['kind'])}>
              {RULE_KINDS.map((k) => (
                <option key={k.kind} value={k.kind}>
                  {k.label}
                </option>
              ))}
            </select>
          </label>
          {f.error('kind')}
        </div>
        {form.kind === 'stop_longer_than' && (
          <SecondsField
            label="Stopped longer than (seconds)"
            required
            min={1}
            value={form.stopS}
            onInput={(stopS) => set({ stopS })}
            aria={f.aria(['stopS'])}
            error={f.error('stopS')}
          />
        )}
        {form.kind === 'logger_offline' && (
          <SecondsField
            label="Wait longer (seconds)"
            note="(optional)"
            min={0}
            value={form.offlineDelayS}
            onInput={(offlineDelayS) => set({ offlineDelayS })}
            aria={f.aria(['offlineDelayS'])}
            error={f.error('offlineDelayS')}
          />
        )}
        {form.kind === 'availability_below' && (
          <div class="field">
            <label>
              Availability below (%)
              <input type="number" min={0} max={100} step="any" required value={form.pct} onInput={(e) => set({ pct: e.currentTarget.value })} {...f.aria(['pct'])} />
            </label>
            {f.error('pct')}
          </div>
        )}
      </div>
      <p class="hint" style="margin:0">
        {RULE_KINDS.find((k) => k.kind === form.kind)!.what}
        {form.kind === 'logger_offline' && ' Wait longer to let a logger that restarts come back before anyone is told.'}
      </p>
      <fieldset {...f.aria(['assetIds'])}>
        <legend>Machines</legend>
        {form.kind === 'logger_offline' && (
          <p class="hint" style="margin:0 0 0.4rem">
            An offline rule watches the loggers these machines are on.
          </p>
        )}
        <div class="checks">
          <label class="inline">
            <input type="radio" name="rule-machines" checked={form.allMachines} onChange={() => set({ allMachines: true })} />
            All machines, also ones added later
          </label>
          <label class="inline">
            <input type="radio" name="rule-machines" checked={!form.allMachines} onChange={() => set({ allMachines: false })} />
            Chosen machines
          </label>
        </div>
        {!form.allMachines && (
          <div class="checks" role="group" aria-label="Chosen machines" style="margin-top:0.5rem">
            {props.assets.length === 0 && <span class="hint">No machines yet: they appear with their logger’s first report.</span>}
            {props.assets.map((a) => (
              <label class="inline" key={a.id}>
                <input type="checkbox" checked={form.assetIds.includes(a.id)} onChange={(e) => set({ assetIds: toggle(form.assetIds, a.id, e.currentTarget.checked) })} />
                {a.name}
              </label>
            ))}
          </div>
        )}
        {f.error('assetIds')}
      </fieldset>
      {plannedTimeApplies(form.kind) && (
        <div class="field">
          <label class="inline">
            <input type="checkbox" checked={form.onlyInPlannedTime} onChange={(e) => set({ onlyInPlannedTime: e.currentTarget.checked })} {...f.aria(['onlyInPlannedTime'])} />
            Only in planned time <span class="hint">(inside shifts, outside breaks and planned downtime)</span>
          </label>
          {f.error('onlyInPlannedTime')}
        </div>
      )}
      <Checks
        legend="Send to"
        options={channelOptions}
        value={form.channelIds}
        onChange={(channelIds) => set({ channelIds })}
        empty={noChannels}
        aria={f.aria(['channelIds'])}
        error={f.error('channelIds')}
      />
      <fieldset>
        <legend>Escalation</legend>
        <label class="inline">
          <input type="checkbox" checked={form.escalate} onChange={(e) => set({ escalate: e.currentTarget.checked })} />
          Tell more channels when nobody acknowledges it
        </label>
        {form.escalate && (
          <div class="stack" style="margin-top:0.5rem">
            <SecondsField
              label="Escalate after (seconds)"
              required
              min={1}
              value={form.escalateAfterS}
              onInput={(escalateAfterS) => set({ escalateAfterS })}
              aria={f.aria(['escalateAfterS'])}
              error={f.error('escalateAfterS')}
            />
            <Checks
              legend="Escalate to"
              options={channelOptions}
              value={form.escalateChannelIds}
              onChange={(escalateChannelIds) => set({ escalateChannelIds })}
              empty={noChannels}
              aria={f.aria(['escalateChannelIds'])}
              error={f.error('escalateChannelIds')}
            />
          </div>
        )}
      </fieldset>
      <div class="row">
        <label class="inline">
          <input type="checkbox" checked={form.notifyOnClear} onChange={(e) => set({ notifyOnClear: e.currentTarget.checked })} />
          Tell the channels when it clears
        </label>
        <label class="inline">
          <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          Enabled
        </label>
      </div>
      <ErrorNote error={save.error} />
      <div class="row">
        <button type="submit" class="primary">
          {editing ? 'Save rule' : 'Add rule'}
        </button>
        {editing && (
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

function names(ids: number[], all: { id: number; name: string }[], what: string): string {
  return ids.map((id) => all.find((x) => x.id === id)?.name ?? `${what} ${id}`).join(', ');
}

export function AlertRules({ assets, channels }: { assets: Asset[]; channels: AlertChannel[] }) {
  const { data, error, setData, reload } = useData(() => api.alertRules(), []);
  useEffect(
    () =>
      onLive((m) => {
        if (m.type === 'alert_config_changed') reload();
      }),
    [],
  );
  const [editing, setEditing] = useState<AlertRule | null>(null);
  const [deleting, setDeleting] = useState<AlertRule | null>(null);
  // Toggling and deleting report under the list, in one place.
  const change = useSave();
  const replace = (saved: AlertRule) =>
    setData((list) => (list?.some((x) => x.id === saved.id) ? list.map((x) => (x.id === saved.id ? saved : x)) : [...(list ?? []), saved]));
  return (
    <section class="card stack" id="alert-rules" aria-labelledby="alert-rules-title">
      <h2 id="alert-rules-title">Alert rules</h2>
      <p class="hint" style="margin:0">
        When an alert opens, for which machines, and which channels hear of it. Everyone sees open alerts on the Alerts page; operators and
        admins acknowledge them.
      </p>
      <ErrorNote error={error} />
      {!data && !error && <Loading what="alert rules" />}
      {data && data.length === 0 && <p>No rules yet, so no alerts open. Start with one, such as “Stopped longer than 600 seconds, in planned time”.</p>}
      {data && data.length > 0 && (
        <Table id="alert-rule-list" columns={['Rule', 'Condition', 'Machines', 'Send to', 'Escalation', 'Enabled', { label: 'Actions', hidden: true }]}>
          {data.map((r) => (
            <tr key={r.id} data-rule-id={r.id}>
              <th scope="row">{r.name}</th>
              <td>
                {describeCondition(r)}
                {r.notify_on_clear && (
                  <>
                    <br />
                    <span class="hint">tells when it clears</span>
                  </>
                )}
              </td>
              <td>{r.asset_ids === null ? 'All machines' : names(r.asset_ids, assets, 'Machine')}</td>
              <td>{r.channel_ids.length === 0 ? <span class="hint">dashboard only</span> : names(r.channel_ids, channels, 'Channel')}</td>
              <td>
                {r.escalate_after_s === null ? (
                  <span class="hint">—</span>
                ) : (
                  <>
                    after {formatDuration(r.escalate_after_s * 1000)} to {names(r.escalate_channel_ids, channels, 'Channel')}
                  </>
                )}
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Rule ${r.name} enabled`}
                  checked={r.enabled}
                  onChange={(e) => {
                    const box = e.currentTarget;
                    const enabled = box.checked;
                    void change.run(async () => {
                      try {
                        replace(await api.updateAlertRule(r.id, { ...ruleBody(r), enabled }));
                      } catch (err) {
                        // Refused: the box goes back to what the server holds.
                        box.checked = r.enabled;
                        throw err;
                      }
                    });
                  }}
                />
              </td>
              <td>
                <div class="row" style="flex-wrap:nowrap">
                  <button type="button" onClick={() => setEditing(r)} aria-label={`Edit rule ${r.name}`}>
                    Edit
                  </button>
                  <button type="button" onClick={() => setDeleting(r)} aria-label={`Delete rule ${r.name}`}>
                    Delete
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <ErrorNote error={change.error} />
      <RuleEditor
        key={editing?.id ?? 'new'}
        editing={editing}
        assets={assets}
        channels={channels}
        onCancel={() => setEditing(null)}
        onSaved={(saved) => {
          replace(saved);
          setEditing(null);
        }}
      />
      <Confirm
        open={deleting !== null}
        title={`Delete the rule “${deleting?.name ?? ''}”?`}
        confirmLabel="Delete rule"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const r = deleting!;
          setDeleting(null);
          void change.run(async () => {
            await api.deleteAlertRule(r.id);
            setData((list) => list?.filter((x) => x.id !== r.id) ?? null);
            if (editing?.id === r.id) setEditing(null);
          });
        }}
      >
        <p>No new alerts open from it. To pause it instead, untick Enabled.</p>
      </Confirm>
    </section>
  );
}
