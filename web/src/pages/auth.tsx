// Sign in and first sign-up. The very first user of a server creates its tenant and becomes its
// admin; after that, sign-up is closed unless the server runs with --open-signup.

import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { navigate } from '../router';
import { begin, endedBecause } from '../session';
import { ErrorNote, useTitle } from '../ui';

export function SignIn() {
  useTitle('Sign in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="auth">
      <h1>assetlog</h1>
      <p class="lede">Which machines run, which stand, and for how long.</p>
      <form
        class="card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            begin(await api.login(email, password));
            navigate('/', true);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2>Sign in</h2>
        {endedBecause.value && <p class="notice">{endedBecause.value}</p>}
        <label>
          Email
          <input type="email" name="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorNote error={error} />
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="hint">
          New server? <a href="/signup">Create the first account</a>.
        </p>
      </form>
    </main>
  );
}

export function SignUp() {
  useTitle('Create the first account');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [tenant, setTenant] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="auth">
      <h1>assetlog</h1>
      <form
        class="card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            begin(await api.signup(email, password, tenant));
            navigate('/', true);
          } catch (err) {
            if (err instanceof ApiError && err.status === 403) {
              setError(new Error('Sign-up is closed on this server: ask an admin of your plant for an account.'));
            } else {
              setError(err);
            }
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2>Create the first account</h2>
        <p class="hint">The first account creates your plant and becomes its admin. Others are added later under People.</p>
        <label>
          Plant or company name
          <input name="tenant" required maxLength={100} autocomplete="organization" value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} />
        </label>
        <label>
          Email
          <input type="email" name="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password <span class="hint">(at least 10 characters and hard to guess: a few unrelated words do)</span>
          <input
            type="password"
            name="password"
            autocomplete="new-password"
            required
            minLength={10}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorNote error={error} />
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
        <p class="hint">
          Already have an account? <a href="/login">Sign in</a>.
        </p>
      </form>
    </main>
  );
}
