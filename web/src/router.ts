// Client routes: the History API and a signal. Links are plain <a href> (middle-click, copy link
// and screen readers work); `navigate` is for code, `onLinkClick` keeps ordinary clicks in the app.
// Forms with unsaved edits say so (`holdUnsaved`): leaving for another page then asks first, in
// the app (a link, `navigate`, Back) with `window.confirm`, and on closing or reloading the tab
// through `beforeunload`.

import { signal } from '@preact/signals';
import { leaveQuestion } from './unsaved';

export interface Location {
  path: string;
  query: URLSearchParams;
}

function read(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

export const location = signal<Location>(typeof window === 'undefined' ? { path: '/', query: new URLSearchParams() } : read());

/** What the forms with unsaved edits are about ("the shifts"), by who said so. */
const unsaved = new Map<object, string>();

/** Asks the browser to ask before the tab closes or reloads; the question is the browser's own. */
function onBeforeUnload(event: BeforeUnloadEvent): void {
  event.preventDefault();
  // Older browsers ask only when this is set.
  event.returnValue = '';
}

/**
 * Marks edits about `what` ("the shifts") as unsaved until the returned function is called (they
 * were saved or undone, or the form went away). Only while some are held is `beforeunload`
 * listened to, so a page without edits stays eligible for the back-forward cache.
 */
export function holdUnsaved(what: string): () => void {
  const key = {};
  if (unsaved.size === 0) window.addEventListener('beforeunload', onBeforeUnload);
  unsaved.set(key, what);
  return () => {
    if (!unsaved.delete(key)) return;
    if (unsaved.size === 0) window.removeEventListener('beforeunload', onBeforeUnload);
  };
}

/** What has unsaved edits now, in the order the forms said so. */
export function unsavedEdits(): string[] {
  return [...unsaved.values()];
}

/** Forgets every unsaved edit: the person agreed to leave them (signing out). */
export function dropUnsaved(): void {
  unsaved.clear();
  window.removeEventListener('beforeunload', onBeforeUnload);
}

/** True when nothing is unsaved, or the person agrees to leave it. */
export function mayLeave(): boolean {
  return unsaved.size === 0 || window.confirm(leaveQuestion(unsavedEdits()));
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => {
    const next = read();
    // Back or Forward to another page: the address has moved already, so staying puts it back.
    if (next.path !== location.value.path && !mayLeave()) {
      const here = location.value.query.toString();
      window.history.pushState(null, '', location.value.path + (here ? `?${here}` : ''));
      return;
    }
    location.value = next;
  });
}

/**
 * Goes to `to`. Going to another page asks first while a form has unsaved edits, and stays
 * when the person says so.
 */
export function navigate(to: string, replace = false): void {
  if (to === window.location.pathname + window.location.search) return;
  if (new URL(to, window.location.href).pathname !== window.location.pathname && !mayLeave()) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  location.value = read();
  window.scrollTo(0, 0);
}

/** Replaces the query of the current route (filters live in the URL, so they survive a reload). */
export function setQuery(values: Record<string, string | undefined>): void {
  const query = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === '') query.delete(k);
    else query.set(k, v);
  }
  const s = query.toString();
  navigate(window.location.pathname + (s ? `?${s}` : ''), true);
}

export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  const anchor = (event.target as Element | null)?.closest?.('a');
  if (!anchor || anchor.target || anchor.hasAttribute('download')) return;
  const href = anchor.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return;
  event.preventDefault();
  navigate(href);
}
