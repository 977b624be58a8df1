// Displays: a read-only link for a wall screen (the kiosk), so a TV on the shop floor shows the
// board without a person's login. The link is shown once, when it is made; revoking a display
// ends its screen's session at once.

import { useState } from 'preact/hooks';
import { api, type Display } from '../../api';
import { zone } from '../../session';
import { formatDateTime } from '../../time';
import { Confirm, ErrorNote, Table, useData, useSave } from '../../ui';

export function Displays() {
  const { data, error, setData } = useData(() => api.displays(), []);
  const [name, setName] = useState('');
  const [made, setMade] = useState<{ name: string; link: string } | null>(null);
  const [revoking, setRevoking] = useState<Display | null>(null);
  const save = useSave();
  return (
    <section class="card stack" id="displays" aria-labelledby="displays-title">
      <h2 id="displays-title">Displays</h2>
      <p class="hint" style="margin:0">
        A display link opens the TV board on a wall screen without anyone's login. It only reads: nothing can be changed from it. Revoke it when the
        screen goes, and it stops at once.
      </p>
      <ErrorNote error={error} />
      {data && data.length > 0 && (
        <Table id="displays-list" columns={['Display', 'Made', { label: 'Actions', hidden: true }]}>
          {data.map((d) => (
            <tr key={d.id}>
              <td>{d.name}</td>
              <td>{formatDateTime(d.created_at, zone.value)}</td>
              <td>
                <button type="button" onClick={() => setRevoking(d)} aria-label={`Revoke display ${d.name}`}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      <form
        class="row"
        aria-label="Add a display"
        onSubmit={save.submit(async () => {
          const created = await api.addDisplay(name);
          setData((list) => [...(list ?? []), { id: created.id, name: created.name, created_at: created.created_at }]);
          setMade({ name: created.name, link: `${window.location.origin}/kiosk#${created.token}` });
          setName('');
        })}
      >
        <label>
          Screen name
          <input required maxLength={50} placeholder="TV hall 2" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button class="primary" type="submit">
          Make a display link
        </button>
      </form>
      <ErrorNote error={save.error} />
      {made && (
        <div class="notice ok" role="status">
          <p style="margin:0 0 0.4rem">
            The link for <strong>{made.name}</strong>, shown only now: open it on the screen (it goes full screen and stays signed in).
          </p>
          <input id="display-link" readOnly aria-label={`Display link for ${made.name}`} value={made.link} onFocus={(e) => e.currentTarget.select()} style="width:100%" />
        </div>
      )}
      <Confirm
        open={revoking !== null}
        title={`Revoke display ${revoking?.name ?? ''}?`}
        confirmLabel="Revoke"
        danger
        onCancel={() => setRevoking(null)}
        onConfirm={() => {
          const d = revoking!;
          setRevoking(null);
          void save.run(async () => {
            await api.deleteDisplay(d.id);
            setData((list) => list?.filter((x) => x.id !== d.id) ?? null);
            if (made?.name === d.name) setMade(null);
          });
        }}
      >
        <p>Its screen stops showing the board at once, and the link never works again.</p>
      </Confirm>
    </section>
  );
}
