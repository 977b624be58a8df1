// The plant: the time zone that cuts days and shifts, the short-stop threshold, the target
// availability the analytics page measures against, and how long the history is kept.

import { useState } from 'preact/hooks';
import { api, type Settings } from '../../api';
import { parseTargetPercent, targetPercentText } from '../../analytics';
import { describeRetention, MAX_RETENTION_DAYS, parseRetention } from '../../retention';
import { loadSettings } from '../../session';
import { timeZones } from '../../time';
import { ErrorNote, Loading, Saved, useData, useSave } from '../../ui';

export function General() {
  const { data, error } = useData(() => api.settings(), []);
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what="settings" />;
  return <GeneralForm initial={data} />;
}

function GeneralForm({ initial }: { initial: Settings }) {
  const [tz, setTz] = useState(initial.timezone);
  const [threshold, setThreshold] = useState(String(initial.short_stop_threshold_s));
  const [forever, setForever] = useState(initial.retention_days === null);
  const [days, setDays] = useState(String(initial.retention_days ?? 365));
  const [kept, setKept] = useState(initial.retention_days);
  const [target, setTarget] = useState(targetPercentText(initial.target_availability));
  const save = useSave();
  return (
    <form
      class="card stack"
      aria-labelledby="general-title"
      onSubmit={save.submit(async () => {
        const retention = parseRetention(forever ? { forever } : { forever, days });
        if ('error' in retention) throw new Error(retention.error);
        const goal = parseTargetPercent(target);
        if ('error' in goal) throw new Error(goal.error);
        const saved = await api.updateSettings({
          timezone: tz,
          short_stop_threshold_s: Number(threshold),
          retention_days: retention.ok,
          target_availability: goal.ok,
        });
        setKept(saved.retention_days);
        setTarget(targetPercentText(saved.target_availability));
        await loadSettings();
      })}
    >
      <h2 id="general-title">Plant</h2>
      <div class="row">
        <label>
          Time zone
          <select value={tz} onChange={(e) => setTz(e.currentTarget.value)}>
            {timeZones(tz).map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </label>
        <label>
          Short-stop threshold (seconds)
          <input type="number" min={1} max={86400} required value={threshold} onInput={(e) => setThreshold(e.currentTarget.value)} />
        </label>
      </div>
      <p class="hint" style="margin:0">
        Days, weeks and shifts are cut in this time zone. A stop shorter than the threshold counts as short (a machine can set its own
        threshold on the Loggers page).
      </p>
      <div class="row">
        <label>
          Target availability (%)
          <input
            type="number"
            min={1}
            max={100}
            step={0.01}
            value={target}
            aria-describedby="target-hint"
            onInput={(e) => setTarget(e.currentTarget.value)}
          />
        </label>
      </div>
      <p class="hint" id="target-hint" style="margin:0">
        Empty: none. Analytics draws it on the trend and marks the machines below it; a machine can have its own on the Loggers page.
        It changes no figure.
      </p>
      <div class="row">
        <label>
          Keep history
          <select value={forever ? 'forever' : 'days'} onChange={(e) => setForever(e.currentTarget.value === 'forever')}>
            <option value="forever">forever</option>
            <option value="days">for a number of days</option>
          </select>
        </label>
        {!forever && (
          <label>
            Days kept
            <input
              type="number"
              min={1}
              max={MAX_RETENTION_DAYS}
              step={1}
              required
              value={days}
              onInput={(e) => setDays(e.currentTarget.value)}
            />
          </label>
        )}
      </div>
      <p class="hint" style="margin:0">
        Now kept: {describeRetention(kept)}. Every hour, events, stop notes and day figures older than that are deleted for good (what the
        figures of the days kept need stays).
      </p>
      <ErrorNote error={save.error} />
      <div class="row">
        <button class="primary" type="submit">
          Save
        </button>
        <Saved when={save.saved} />
      </div>
    </form>
  );
}
