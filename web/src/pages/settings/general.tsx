// The plant: the time zone that cuts days and shifts, and the short-stop threshold.

import { useState } from 'preact/hooks';
import { api, type Settings } from '../../api';
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
  const save = useSave();
  return (
    <form
      class="card stack"
      aria-labelledby="general-title"
      onSubmit={save.submit(async () => {
        await api.updateSettings({ timezone: tz, short_stop_threshold_s: Number(threshold) });
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
