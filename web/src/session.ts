// Who is signed in, kept in localStorage so a reload (or the TV above the shop floor after a
// power cut) stays signed in until the token expires.

import { computed, signal } from '@preact/signals';
import { api, configure, type Session, type Settings } from './api';

const KEY = 'assetlog.session';

function stored(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return s.expires_at > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export const session = signal<Session | null>(null);
/** The tenant's settings (time zone, short-stop threshold); loaded after sign-in. */
export const settings = signal<Settings | null>(null);
/** Whether the settings were asked for (successfully or not) since sign-in. */
export const settingsReady = signal(false);
/** Why the last session ended, for the sign-in page. */
export const endedBecause = signal<string | null>(null);

export const zone = computed(() => settings.value?.timezone ?? 'UTC');
export const role = computed(() => session.value?.user.role ?? 'viewer');
export const isAdmin = computed(() => role.value === 'admin');
/** Operators and admins annotate stops. */
export const canAnnotate = computed(() => role.value === 'operator' || role.value === 'admin');
/** A wall screen signed in with a display token: it shows the TV board and changes nothing. */
export const isDisplay = computed(() => role.value === 'display');

export function begin(s: Session): void {
  localStorage.setItem(KEY, JSON.stringify(s));
  configure(s.token, expire);
  endedBecause.value = null;
  session.value = s;
  void loadSettings();
}

export async function loadSettings(): Promise<void> {
  try {
    settings.value = await api.settings();
  } catch {
    // Pages that need the zone fall back to UTC; a 401 has ended the session already.
  } finally {
    settingsReady.value = true;
  }
}

function clear(): void {
  localStorage.removeItem(KEY);
  configure(null);
  session.value = null;
  settings.value = null;
  settingsReady.value = false;
}

function expire(): void {
  if (!session.value) return;
  clear();
  endedBecause.value = 'Your session has ended. Sign in again.';
}

/**
 * Signs a wall screen in with a display token (from the kiosk link an admin made): it holds until
 * the admin revokes it, which the server tells the screen by closing its live socket.
 */
export async function beginKiosk(token: string): Promise<void> {
  configure(token, expire);
  const me = await api.me();
  begin({ token, expires_at: Number.MAX_SAFE_INTEGER, user: me.user, tenant: me.tenant });
}

export async function signOut(): Promise<void> {
  try {
    await api.logout();
  } catch {
    // Signed out locally whatever the server says.
  }
  clear();
}

/** Restores a stored session and checks it with the server (role changes, revoked tokens). */
export function restore(): void {
  const s = stored();
  if (!s) return;
  configure(s.token, expire);
  session.value = s;
  void loadSettings();
  void recheck();
}

/**
 * Asks the server who this session is now and keeps the answer, so a role an admin changed
 * shows (and takes effect in the pages) without a reload. A 401 ends the session (`expire`).
 */
export async function recheck(): Promise<void> {
  const token = session.value?.token;
  if (!token) return;
  try {
    const me = await api.me();
    // Signed out, or in as someone else, while the answer was on its way: not theirs.
    if (session.value?.token !== token) return;
    const updated = { ...session.value, user: me.user, tenant: me.tenant };
    localStorage.setItem(KEY, JSON.stringify(updated));
    session.value = updated;
  } catch {
    // 401: expire() ran. Network errors: keep the session and let the pages retry.
  }
}
