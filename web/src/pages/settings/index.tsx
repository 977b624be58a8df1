// Settings (admins): what shapes the numbers. The time zone that cuts days and shifts, the
// short-stop threshold, the weekly shift calendar with its breaks, planned downtime, and the
// downtime reasons operators pick from, alerting (channels, then the rules that name them), and
// the reports emailed after each shift, day or week; one file per section, each saving through
// `useSave`.

import { useEffect } from 'preact/hooks';
import { api } from '../../api';
import { onLive } from '../../store';
import { useData, useTitle } from '../../ui';
import { AlertChannels } from './alert-channels';
import { AlertRules } from './alert-rules';
import { Displays } from './displays';
import { Downtime } from './downtime';
import { General } from './general';
import { Reasons } from './reasons';
import { Reports } from './reports';
import { Shifts } from './shifts';

export function SettingsPage() {
  useTitle('Settings');
  const assets = useData(() => api.assets(), []);
  // Both alert sections use the channels: the rules pick from the list the channels section edits.
  const channels = useData(() => api.alertChannels(), []);
  // Another admin (or tab) changed them: the server says so on the socket.
  useEffect(
    () =>
      onLive((m) => {
        if (m.type === 'alert_config_changed') channels.reload();
      }),
    [],
  );
  return (
    <main id="main" class="stack">
      <div class="page-head" style="margin:0">
        <h1>Settings</h1>
      </div>
      <General />
      <Reasons />
      <Shifts />
      <Downtime assets={assets.data ?? []} />
      <AlertChannels channels={channels.data} error={channels.error} setChannels={channels.setData} />
      <AlertRules assets={assets.data ?? []} channels={channels.data ?? []} />
      <Reports assets={assets.data ?? []} />
      <Displays />
    </main>
  );
}
