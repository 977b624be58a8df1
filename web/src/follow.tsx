// Pages that follow the live socket: the timeline, the stops and the analytics re-read what they
// show when a machine changes state or a logger comes or goes (a few seconds later, one read for
// a burst), on every reconnection of the socket, and once a minute (an ongoing stop grows while
// nothing is said). During an outage they keep their last answer, marked stale, and recover by
// themselves when the server is back.

import { useEffect, useState } from 'preact/hooks';
import { errorText } from './api';
import { zone } from './session';
import { live, onLive, onReconnect } from './store';
import { formatTime } from './time';
import { useData } from './ui';

/** How long after a live change a page re-reads; changes in between make the same read. */
export const FOLLOW_MS = 2000;
/** How often a visible page re-reads when nothing is said. */
export const FOLLOW_EVERY_MS = 60_000;

/**
 * `useData` that follows the live socket. `asked` is false when the page has no question to
 * ask (dates that make no period): its error is then the page's own, and nothing is stale.
 */
export function useLiveData<T>(load: () => Promise<T>, deps: unknown[], asked = true) {
  const data = useData(load, deps);
  const [loadedAt, setLoadedAt] = useState<number | null>(null);
  useEffect(() => {
    if (data.data !== null) setLoadedAt(Date.now());
  }, [data.data]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const soon = () => {
      timer ??= setTimeout(() => {
        timer = null;
        data.reload();
      }, FOLLOW_MS);
    };
    const offLive = onLive((m) => {
      if (m.type === 'asset_state_change' || m.type === 'logger_status') soon();
    });
    const offOpen = onReconnect(() => data.reload());
    const every = setInterval(() => {
      if (document.visibilityState === 'visible') data.reload();
    }, FOLLOW_EVERY_MS);
    return () => {
      offLive();
      offOpen();
      clearInterval(every);
      if (timer) clearTimeout(timer);
    };
  }, deps);
  // The last answer is kept through an outage; it is stale while the socket is down or a re-read failed.
  const stale = asked && data.data !== null && (live.status.value !== 'open' || data.error !== null);
  return { ...data, stale, loadedAt };
}

/** Says that the page shows an old answer, of when, and that it recovers by itself. */
export function StaleNote({ stale, loadedAt, error }: { stale: boolean; loadedAt: number | null; error: unknown }) {
  if (!stale) return null;
  const why = error ? errorText(error) : 'the server cannot be reached';
  return (
    <p class="notice stale-note" role="status" data-testid="stale">
      Not live: {why}. Showing what was read{loadedAt ? ` at ${formatTime(loadedAt, zone.value)}` : ''}; this page updates by itself when the server is back.
    </p>
  );
}
