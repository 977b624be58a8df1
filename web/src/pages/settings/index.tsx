// Settings (admins): what shapes the numbers. The time zone that cuts days and shifts, the
// short-stop threshold, the weekly shift calendar with its breaks, planned downtime, and the
// downtime reasons operators pick from; one file per section, each saving through `useSave`.

import { api } from '../../api';
import { useData, useTitle } from '../../ui';
import { Downtime } from './downtime';
import { General } from './general';
import { Reasons } from './reasons';
import { Shifts } from './shifts';

export function SettingsPage() {
  useTitle('Settings');
  const assets = useData(() => api.assets(), []);
  return (
    <main id="main" class="stack">
      <div class="page-head" style="margin:0">
        <h1>Settings</h1>
      </div>
      <General />
      <Reasons />
      <Shifts />
      <Downtime assets={assets.data ?? []} />
    </main>
  );
}
