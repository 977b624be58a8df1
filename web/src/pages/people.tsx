// People (admins): who may sign in, and what they may do. Viewers read; operators also give
// stops their reasons; admins change everything.

import { useState } from 'preact/hooks';
import { api, type Role, type User } from '../api';
import { session } from '../session';
import { Confirm, ErrorNote, Loading, Table, useData, useTitle } from '../ui';

const ROLES: { value: Role; label: string; what: string }[] = [
  { value: 'viewer', label: 'Viewer', what: 'reads the board, analytics and stops' },
  { value: 'operator', label: 'Operator', what: 'also gives stops their reasons and comments' },
  { value: 'admin', label: 'Admin', what: 'also manages loggers, people and settings' },
];

export function People() {
  useTitle('People');
  const { data, error, setData } = useData(() => api.users(), []);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [formError, setFormError] = useState<unknown>(null);
  const [added, setAdded] = useState<User | null>(null);
  const [removing, setRemoving] = useState<User | null>(null);
  const [removeError, setRemoveError] = useState<unknown>(null);
  const me = session.value?.user.id;
  return (
    <main id="main">
      <div class="page-head">
        <h1>People</h1>
      </div>
      <ErrorNote error={error ?? removeError} />
      {!data && !error && <Loading what="people" />}
      {data && (
        <Table id="people" columns={['Email', 'Role', { label: 'Actions', hidden: true }]}>
          {data.map((u) => (
            <tr key={u.id}>
              <td>
                {u.email}
                {u.id === me && <span class="hint"> (you)</span>}
              </td>
              <td>
                {/* Your own role stays as it is here: stepping down is another admin's call. */}
                {u.id === me ? (
                  u.role
                ) : (
                  <select
                    aria-label={`Role of ${u.email}`}
                    value={u.role}
                    onChange={async (e) => {
                      const role = e.currentTarget.value as Role;
                      setRemoveError(null);
                      try {
                        const changed = await api.setUserRole(u.id, role);
                        setData((list) => list?.map((x) => (x.id === changed.id ? changed : x)) ?? null);
                      } catch (err) {
                        setRemoveError(err);
                      }
                    }}
                  >
                    {ROLES.map((r) => (
                      <option key={r.value} value={r.value}>
                        {r.label}
                      </option>
                    ))}
                  </select>
                )}
              </td>
              <td>
                {/* Removing yourself would sign you out mid-sentence: another admin does it. */}
                {u.id !== me && (
                  <button type="button" onClick={() => setRemoving(u)} aria-label={`Remove ${u.email}`}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {data && data.length === 1 && <p class="hint">Only you so far. Add the people who watch the machines below.</p>}
      <form
        class="card stack"
        style="margin-top:1rem"
        aria-labelledby="add-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setFormError(null);
          setAdded(null);
          try {
            const user = await api.addUser(email, password, role);
            setData((list) => [...(list ?? []), user]);
            setAdded(user);
            setEmail('');
            setPassword('');
          } catch (err) {
            setFormError(err);
          }
        }}
      >
        <h2 id="add-title">Add a person</h2>
        <div class="row">
          <label>
            Email
            <input type="email" required autocomplete="off" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <label>
            First password <span class="hint">(10 characters or more, hard to guess; tell them in person)</span>
            <input type="password" required minLength={10} autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {ROLES.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        <ul class="hint" style="margin:0">
          {ROLES.map((r) => (
            <li key={r.value}>
              <strong>{r.label}</strong> {r.what}.
            </li>
          ))}
        </ul>
        <ErrorNote error={formError} />
        {added && (
          <p class="notice ok" role="status">
            {added.email} can now sign in as {added.role}.
          </p>
        )}
        <div class="row">
          <button class="primary" type="submit">
            Add person
          </button>
        </div>
      </form>
      <Confirm
        open={removing !== null}
        title={`Remove ${removing?.email ?? ''}?`}
        confirmLabel="Remove"
        danger
        onCancel={() => setRemoving(null)}
        onConfirm={async () => {
          const u = removing!;
          setRemoving(null);
          setRemoveError(null);
          try {
            await api.deleteUser(u.id);
            setData((list) => list?.filter((x) => x.id !== u.id) ?? null);
            if (added?.id === u.id) setAdded(null);
          } catch (err) {
            setRemoveError(err);
          }
        }}
      >
        <p>They are signed out everywhere at once and can no longer sign in.</p>
      </Confirm>
    </main>
  );
}
