// Loggers waiting to be claimed (admins only): the hardware ids an admin claims from, where each
// came from, and a release for a squatted id (docs/API.md §5). Never a claim code or key: the
// code is read off the device.

import { useEffect, useState } from 'preact/hooks';
import { api, type PendingLogger } from './api';
import { formatAgo } from './format';
import { zone } from './session';
import { now } from './store';
import { formatDateTime } from './time';
import { Confirm, ErrorNote, useData } from './ui';

/** Reloads when `claimed` (the number of the tenant's loggers) changes, and every 15 s. */
export function PendingLoggers({ claimed }: { claimed: number }) {
  const { data, error, reload } = useData(() => api.pendingLoggers(), [claimed]);
  const [releasing, setReleasing] = useState<PendingLogger | null>(null);
  const [failed, setFailed] = useState<unknown>(null);
  useEffect(() => {
    const every = setInterval(reload, 15_000);
    return () => clearInterval(every);
  }, []);
  if (!data?.length && !error) return null;
  return (
    <section class="card" aria-labelledby="pending-title" style="margin:1rem 0">
      <h2 id="pending-title">Waiting to be claimed</h2>
      <p class="hint">
        Loggers that registered but belong to no tenant yet. Claim yours above with the code on its display. Release a hardware id another
        device has taken: what it stored is deleted and the real logger can register afresh.
      </p>
      <ErrorNote error={error ?? failed} />
      {data && data.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Logger id</th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
                <th scope="col">Address</th>
                <th scope="col">Firmware</th>
                <th scope="col">Stored</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((p) => (
                <tr key={p.logger_id}>
                  <td>
                    <code>{p.logger_id}</code>
                  </td>
                  <td>{formatDateTime(p.first_seen, zone.value)}</td>
                  <td>{formatAgo(p.last_seen, now.value)}</td>
                  <td>
                    {p.remote_address ?? '–'}
                    {p.ip_address && p.ip_address !== p.remote_address ? ` (says ${p.ip_address})` : ''}
                  </td>
                  <td>{p.firmware_version ?? '–'}</td>
                  <td>
                    {p.events} event{p.events === 1 ? '' : 's'}, {p.assets} input{p.assets === 1 ? '' : 's'}
                  </td>
                  <td>
                    <button type="button" class="danger" onClick={() => setReleasing(p)}>
                      Release
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Confirm
        open={releasing !== null}
        title={`Release ${releasing?.logger_id ?? ''}?`}
        confirmLabel="Release"
        danger
        onCancel={() => setReleasing(null)}
        onConfirm={() => {
          const target = releasing;
          setReleasing(null);
          if (!target) return;
          setFailed(null);
          api.releasePending(target.logger_id).then(reload, setFailed);
        }}
      >
        <p>Its key stops working and the {releasing?.events ?? 0} events it stored are deleted. The device can then register again as a new pending logger.</p>
      </Confirm>
    </section>
  );
}
