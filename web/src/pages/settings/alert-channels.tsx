// Alert channels: where alerts are sent (a signed webhook, Slack, Teams, email), each with a
// "Send test" that shows what the receiver answered. The list belongs to the settings page, so
// the rules below pick from the same channels. A refusal that names a field (the URL, the
// addresses) shows at it; a channel typed or edited but not saved asks before the page is left.

import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { CHANNEL_KINDS, MAX_URL, channelToForm, describeTarget, emptyChannelForm, kindLabel, parseChannelForm, type ChannelForm } from '../../alert-channels';
import { deliveryText } from '../../alerts';
import { api, errorText, type AlertChannel, type ChannelTestResult } from '../../api';
import { fieldErrorsOf, hasErrors, without, type FieldErrors } from '../../field-errors';
import { zone } from '../../session';
import { CHANNEL_FIELDS } from '../../settings-fields';
import { formatTime } from '../../time';
import { edited } from '../../unsaved';
import { Confirm, CopyText, ErrorNote, Loading, Table, useFieldMessages, useSave, useUnsavedWarning } from '../../ui';

type Channels = AlertChannel[] | null;

const KIND_HINTS: Record<ChannelForm['kind'], string> = {
  webhook: 'assetlog POSTs the alert as JSON, signed with the channel’s secret (shown in the list once saved) so the receiver can check it came from here (docs/ALERTS.md). Receivers on a private network need the server started with --allow-private-webhooks.',
  slack: 'An incoming-webhook URL of your Slack workspace (https://hooks.slack.com/…).',
  teams: 'An incoming-webhook (workflow) URL of the Teams channel.',
  email: 'Up to 50 addresses. Sent by the server’s mail settings (SMTP); without them the server refuses email channels.',
};

type TestState = { busy: true } | { busy: false; result: ChannelTestResult } | { busy: false; error: unknown };

function TestNote({ state }: { state: TestState | undefined }) {
  const tz = zone.value;
  return (
    <span role="status">
      {state?.busy && <span class="hint">Sending…</span>}
      {state && !state.busy && 'result' in state && (
        <span class={`delivery ${state.result.ok ? 'ok' : 'failed'}`}>
          {deliveryText(state.result)} <span class="hint">at {formatTime(state.result.at, tz)}</span>
        </span>
      )}
      {state && !state.busy && 'error' in state && <span class="delivery failed">{errorText(state.error)}</span>}
    </span>
  );
}

function ChannelEditor({ editing, onSaved, onCancel }: { editing: AlertChannel | null; onSaved: (c: AlertChannel) => void; onCancel: () => void }) {
  const [initial] = useState<ChannelForm>(() => (editing ? channelToForm(editing) : emptyChannelForm()));
  const [form, setForm] = useState<ChannelForm>(initial);
  const save = useSave();
  const [errors, setErrors] = useState<FieldErrors>({});
  const f = useFieldMessages(errors);
  useUnsavedWarning(edited(form, initial), editing ? `the channel “${editing.name}”` : 'a new alert channel');
  const first = useRef<HTMLInputElement>(null);
  // A changed field's message goes; a new kind changes what the URL or addresses must be.
  const set = (change: Partial<ChannelForm>) => {
    setForm({ ...form, ...change });
    setErrors((x) => without(x, 'kind' in change ? ['kind', 'url', 'to'] : Object.keys(change)));
  };
  useLayoutEffect(() => {
    if (editing) first.current?.focus();
  }, [editing]);
  const title = editing ? `Edit the channel “${editing.name}”` : 'Add a channel';
  return (
    <form
      ref={f.ref}
      class="stack"
      aria-label={title}
      onSubmit={save.submit(async () => {
        setErrors({});
        try {
          const parsed = parseChannelForm(form);
          if ('error' in parsed) throw new Error(parsed.error);
          const saved = editing ? await api.updateAlertChannel(editing.id, parsed.ok) : await api.addAlertChannel(parsed.ok);
          onSaved(saved);
          if (!editing) setForm(emptyChannelForm());
        } catch (err) {
          const fields = fieldErrorsOf(err, CHANNEL_FIELDS);
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
            Kind
            <select value={form.kind} onChange={(e) => set({ kind: e.currentTarget.value as ChannelForm['kind'] })} {...f.aria(['kind'])}>
              {CHANNEL_KINDS.map((k) => (
                <option key={k.kind} value={k.kind}>
                  {k.label}
                </option>
              ))}
            </select>
          </label>
          {f.error('kind')}
        </div>
        {form.kind === 'email' ? (
          <div class="field" style="flex:1;min-width:16rem">
            <label>
              <span>
                Send to <span class="hint">(addresses, separated by commas)</span>
              </span>
              <textarea rows={2} required value={form.to} onInput={(e) => set({ to: e.currentTarget.value })} {...f.aria(['to'])} />
            </label>
            {f.error('to')}
          </div>
        ) : (
          <div class="field" style="flex:1;min-width:16rem">
            <label>
              URL
              <input
                type="url"
                required
                maxLength={MAX_URL}
                value={form.url}
                placeholder="https://"
                autocomplete="off"
                onInput={(e) => set({ url: e.currentTarget.value })}
                {...f.aria(['url'])}
              />
            </label>
            {f.error('url')}
          </div>
        )}
      </div>
      <p class="hint" style="margin:0">{KIND_HINTS[form.kind]}</p>
      <ErrorNote error={save.error} />
      <div class="row">
        <button type="submit" class="primary">
          {editing ? 'Save channel' : 'Add channel'}
        </button>
        {editing && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

export function AlertChannels({ channels, error, setChannels }: { channels: Channels; error: unknown; setChannels: (f: (list: Channels) => Channels) => void }) {
  const [editing, setEditing] = useState<AlertChannel | null>(null);
  const [deleting, setDeleting] = useState<AlertChannel | null>(null);
  const [tests, setTests] = useState<Record<number, TestState>>({});
  // Deleting reports under the list.
  const remove = useSave();
  const test = async (c: AlertChannel) => {
    setTests((t) => ({ ...t, [c.id]: { busy: true } }));
    let state: TestState;
    try {
      state = { busy: false, result: await api.testAlertChannel(c.id) };
    } catch (err) {
      state = { busy: false, error: err };
    }
    setTests((t) => ({ ...t, [c.id]: state }));
  };
  return (
    <section class="card stack" id="alert-channels" aria-labelledby="alert-channels-title">
      <h2 id="alert-channels-title">Alert channels</h2>
      <p class="hint" style="margin:0">
        Where alerts are sent. A rule below names its channels; an alert opens on the dashboard whatever it sends.
      </p>
      <ErrorNote error={error} />
      {!channels && !error && <Loading what="alert channels" />}
      {channels && channels.length === 0 && <p>No channels yet. Add a webhook, a Slack or Teams channel, or email.</p>}
      {channels && channels.length > 0 && (
        <Table id="alert-channel-list" columns={['Name', 'Kind', 'Sends to', 'Secret', 'Last test', { label: 'Actions', hidden: true }]}>
          {channels.map((c) => (
            <tr key={c.id} data-channel-id={c.id}>
              <th scope="row">{c.name}</th>
              <td>{kindLabel(c.kind)}</td>
              <td style="overflow-wrap:anywhere">{describeTarget(c)}</td>
              <td>{c.secret ? <CopyText text={c.secret} label={`the secret of ${c.name}`} /> : <span class="hint">—</span>}</td>
              <td>
                <TestNote state={tests[c.id]} />
              </td>
              <td>
                <div class="row" style="flex-wrap:nowrap">
                  <button type="button" disabled={tests[c.id]?.busy} onClick={() => void test(c)} aria-label={`Send test to ${c.name}`}>
                    Send test
                  </button>
                  <button type="button" onClick={() => setEditing(c)} aria-label={`Edit channel ${c.name}`}>
                    Edit
                  </button>
                  <button type="button" onClick={() => setDeleting(c)} aria-label={`Delete channel ${c.name}`}>
                    Delete
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <ErrorNote error={remove.error} />
      <ChannelEditor
        key={editing?.id ?? 'new'}
        editing={editing}
        onCancel={() => setEditing(null)}
        onSaved={(saved) => {
          setChannels((list) => (list?.some((x) => x.id === saved.id) ? list.map((x) => (x.id === saved.id ? saved : x)) : [...(list ?? []), saved]));
          setEditing(null);
        }}
      />
      <Confirm
        open={deleting !== null}
        title={`Delete the channel “${deleting?.name ?? ''}”?`}
        confirmLabel="Delete channel"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const c = deleting!;
          setDeleting(null);
          void remove.run(async () => {
            // A channel a rule still names is refused (409 channel_in_use); the server says which.
            await api.deleteAlertChannel(c.id);
            setChannels((list) => list?.filter((x) => x.id !== c.id) ?? null);
            if (editing?.id === c.id) setEditing(null);
          });
        }}
      >
        <p>Nothing more is sent to it. A channel that a rule names cannot be deleted: take it out of the rule first.</p>
      </Confirm>
    </section>
  );
}
