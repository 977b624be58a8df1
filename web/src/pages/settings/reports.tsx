// Reports: a summary of each shift, day or week emailed to a few people, for all machines or some.
// The server sends them (and catches up on periods it missed while down); this section only says
// what to send to whom. `reports.ts` holds what the server takes. A refusal that names a field
// (the addresses, a schedule that needs shifts) shows at it; a report typed or edited but not
// saved asks before the page is left.

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { toggle } from '../../alert-rules';
import { api, type Asset, type Report, type Schedule } from '../../api';
import { fieldErrorsOf, hasErrors, without, type FieldErrors } from '../../field-errors';
import { SCHEDULES, emptyReportForm, lastSentText, parseReportForm, reportToForm, scheduleLabel, type ReportForm } from '../../reports';
import { zone } from '../../session';
import { REPORT_FIELDS } from '../../settings-fields';
import { onLive } from '../../store';
import { edited } from '../../unsaved';
import { Confirm, ErrorNote, Loading, Table, useData, useFieldMessages, useSave, useUnsavedWarning } from '../../ui';

function ReportEditor(props: { editing: Report | null; assets: Asset[]; onSaved: (r: Report) => void; onCancel: () => void }) {
  const { editing } = props;
  const [initial] = useState<ReportForm>(() => (editing ? reportToForm(editing) : emptyReportForm()));
  const [form, setForm] = useState<ReportForm>(initial);
  const save = useSave();
  const [errors, setErrors] = useState<FieldErrors>({});
  const f = useFieldMessages(errors);
  useUnsavedWarning(edited(form, initial), editing ? `the report “${editing.name}”` : 'a new report');
  const first = useRef<HTMLInputElement>(null);
  const set = (change: Partial<ReportForm>) => {
    setForm({ ...form, ...change });
    setErrors((x) => without(x, 'allMachines' in change ? [...Object.keys(change), 'assetIds'] : Object.keys(change)));
  };
  useLayoutEffect(() => {
    if (editing) first.current?.focus();
  }, [editing]);
  const title = editing ? `Edit the report “${editing.name}”` : 'Add a report';
  return (
    <form
      ref={f.ref}
      class="stack"
      aria-label={title}
      onSubmit={save.submit(async () => {
        setErrors({});
        try {
          const parsed = parseReportForm(form);
          if ('error' in parsed) throw new Error(parsed.error);
          // Refusals (no mail settings, no shift calendar) come back with the server's words.
          const saved = editing ? await api.updateReport(editing.id, parsed.ok) : await api.addReport(parsed.ok);
          props.onSaved(saved);
          if (!editing) setForm(emptyReportForm());
        } catch (err) {
          const fields = fieldErrorsOf(err, REPORT_FIELDS);
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
            Schedule
            <select value={form.schedule} onChange={(e) => set({ schedule: e.currentTarget.value as Schedule })} {...f.aria(['schedule'])}>
              {SCHEDULES.map((s) => (
                <option key={s.schedule} value={s.schedule}>
                  {s.label}
                </option>
              ))}
            </select>
          </label>
          {f.error('schedule')}
        </div>
        <div class="field" style="flex:1;min-width:16rem">
          <label>
            {/* One line of label, so the field lines up with its neighbours. */}
            <span>
              Send to <span class="hint">(addresses, separated by commas, spaces or lines)</span>
            </span>
            <textarea rows={2} required value={form.to} onInput={(e) => set({ to: e.currentTarget.value })} {...f.aria(['to'])} />
          </label>
          {f.error('to')}
        </div>
      </div>
      <p class="hint" style="margin:0">
        {SCHEDULES.find((s) => s.schedule === form.schedule)!.what}
      </p>
      <fieldset {...f.aria(['assetIds'])}>
        <legend>Machines</legend>
        <div class="checks">
          <label class="inline">
            <input type="radio" name="report-machines" checked={form.allMachines} onChange={() => set({ allMachines: true })} />
            All machines, also ones added later
          </label>
          <label class="inline">
            <input type="radio" name="report-machines" checked={!form.allMachines} onChange={() => set({ allMachines: false })} />
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
      <ErrorNote error={save.error} />
      <div class="row">
        <button type="submit" class="primary">
          {editing ? 'Save report' : 'Add report'}
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

function machineNames(ids: number[], assets: Asset[]): string {
  return ids.map((id) => assets.find((a) => a.id === id)?.name ?? `Machine ${id}`).join(', ');
}

export function Reports({ assets }: { assets: Asset[] }) {
  const { data, error, setData, reload } = useData(() => api.reports(), []);
  // The server says so on the socket when another admin (or tab) changes them.
  useEffect(
    () =>
      onLive((m) => {
        if (m.type === 'alert_config_changed') reload();
      }),
    [],
  );
  const [editing, setEditing] = useState<Report | null>(null);
  const [deleting, setDeleting] = useState<Report | null>(null);
  // Deleting reports under the list.
  const remove = useSave();
  const tz = zone.value;
  return (
    <section class="card stack" id="reports" aria-labelledby="reports-title">
      <h2 id="reports-title">Reports</h2>
      <p class="hint" style="margin:0">
        At the end of each shift, day (midnight) or week (Monday 00:00) in the plant’s time zone, the server emails a summary with that
        period’s analytics and stops as CSV; a period missed while the server was down is sent once it is back.
      </p>
      <ErrorNote error={error} />
      {!data && !error && <Loading what="reports" />}
      {data && data.length === 0 && <p>No reports yet. Start with one, such as a summary of each shift for the shift leads.</p>}
      {data && data.length > 0 && (
        <Table id="report-list" columns={['Report', 'Schedule', 'Send to', 'Machines', 'Last period sent', { label: 'Actions', hidden: true }]}>
          {data.map((r) => (
            <tr key={r.id} data-report-id={r.id}>
              <th scope="row">{r.name}</th>
              <td>{scheduleLabel(r.schedule)}</td>
              <td style="overflow-wrap:anywhere">{r.to.join(', ')}</td>
              <td>{r.asset_ids === null ? 'All machines' : machineNames(r.asset_ids, assets)}</td>
              <td>{r.last_period_end === null ? <span class="hint">{lastSentText(null, tz)}</span> : lastSentText(r.last_period_end, tz)}</td>
              <td>
                <div class="row" style="flex-wrap:nowrap">
                  <button type="button" onClick={() => setEditing(r)} aria-label={`Edit report ${r.name}`}>
                    Edit
                  </button>
                  <button type="button" onClick={() => setDeleting(r)} aria-label={`Delete report ${r.name}`}>
                    Delete
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <ErrorNote error={remove.error} />
      <ReportEditor
        key={editing?.id ?? 'new'}
        editing={editing}
        assets={assets}
        onCancel={() => setEditing(null)}
        onSaved={(saved) => {
          setData((list) => (list?.some((x) => x.id === saved.id) ? list.map((x) => (x.id === saved.id ? saved : x)) : [...(list ?? []), saved]));
          setEditing(null);
        }}
      />
      <Confirm
        open={deleting !== null}
        title={`Delete the report “${deleting?.name ?? ''}”?`}
        confirmLabel="Delete report"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const r = deleting!;
          setDeleting(null);
          void remove.run(async () => {
            await api.deleteReport(r.id);
            setData((list) => list?.filter((x) => x.id !== r.id) ?? null);
            if (editing?.id === r.id) setEditing(null);
          });
        }}
      >
        <p>No more emails are sent for it. Those already sent stay with their recipients.</p>
      </Confirm>
    </section>
  );
}
