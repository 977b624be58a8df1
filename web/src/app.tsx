// The shell: signed out, the sign-in and sign-up pages; signed in, the navigation and the page of
// the current route. Pages with charts load on first visit, so the board's first load stays small.

import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Board, TvBoard } from './pages/board';
import { SignIn, SignUp } from './pages/auth';
import { dropUnsaved, location, mayLeave, navigate, onLinkClick } from './router';
import { beginKiosk, isAdmin, isDisplay, session, settingsReady, signOut } from './session';
import { AlertBadge } from './pages/board';
import { startLive, stopLive } from './store';
import { Empty, Loading, Redirect } from './ui';

type PageModule = Record<string, unknown>;

/** A page in its own chunk, loaded on first visit. */
function lazy(load: () => Promise<PageModule>, name: string): ComponentType {
  let loaded: ComponentType | null = null;
  return function Lazy() {
    const [page, setPage] = useState<ComponentType | null>(() => loaded);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (page) return;
      load().then(
        (m) => {
          loaded = (m[name] as ComponentType | undefined) ?? null;
          setPage(() => loaded);
        },
        () => setFailed(true),
      );
    }, []);
    if (failed) return <p class="notice error">This page could not be loaded. Reload to try again.</p>;
    const Page = page;
    return Page ? <Page /> : <Loading what="the page" />;
  };
}

const Loggers = lazy(() => import('./pages/loggers'), 'Loggers');
const Analytics = lazy(() => import('./pages/analytics'), 'Analytics');
const Stops = lazy(() => import('./pages/stops'), 'Stops');
const Timeline = lazy(() => import('./pages/timeline'), 'Timeline');
const Alerts = lazy(() => import('./pages/alerts'), 'Alerts');
const People = lazy(() => import('./pages/people'), 'People');
const SettingsPage = lazy(() => import('./pages/settings'), 'SettingsPage');

interface Route {
  path: string;
  label: string;
  page: ComponentType;
  admin?: boolean;
}

const ROUTES: Route[] = [
  { path: '/', label: 'Board', page: Board },
  { path: '/timeline', label: 'Timeline', page: Timeline },
  { path: '/analytics', label: 'Analytics', page: Analytics },
  { path: '/stops', label: 'Stops', page: Stops },
  { path: '/station', label: 'Station', page: lazy(() => import('./pages/station'), 'Station') },
  { path: '/alerts', label: 'Alerts', page: Alerts },
  { path: '/loggers', label: 'Loggers', page: Loggers },
  { path: '/people', label: 'People', page: People, admin: true },
  { path: '/settings', label: 'Settings', page: SettingsPage, admin: true },
];

function Nav() {
  const [open, setOpen] = useState(false);
  const path = location.value.path;
  const s = session.value!;
  useEffect(() => setOpen(false), [path]);
  return (
    <header class="topbar">
      <a class="brand" href="/">
        assetlog <span class="tenant">{s.tenant.name}</span>
      </a>
      <AlertBadge />
      <button type="button" class="menu-toggle" aria-expanded={open} aria-controls="nav" onClick={() => setOpen(!open)}>
        Menu
      </button>
      <nav id="nav" class={open ? 'open' : ''} aria-label="Main">
        <ul>
          {ROUTES.filter((r) => !r.admin || isAdmin.value).map((r) => (
            <li key={r.path}>
              <a href={r.path} aria-current={r.path === path ? 'page' : undefined}>
                {r.label}
              </a>
            </li>
          ))}
        </ul>
        <div class="user">
          <span class="who">
            {s.user.email} <span class="role">({s.user.role})</span>
          </span>
          <button
            type="button"
            onClick={async () => {
              // Unsaved edits ask first, while the session still stands.
              if (!mayLeave()) return;
              dropUnsaved();
              await signOut();
              navigate('/login', true);
            }}
          >
            Sign out
          </button>
        </div>
      </nav>
    </header>
  );
}

function SignedIn() {
  useEffect(() => {
    startLive();
    return stopLive;
  }, []);
  const path = location.value.path;
  if (path === '/login' || path === '/signup') return <Redirect to="/" />;
  // Periods and days are the plant's: wait for its time zone before any page asks for data.
  if (!settingsReady.value) return <Loading what="your plant's settings" />;
  // A wall screen shows the TV board, whatever address it is at.
  if (isDisplay.value) return path === '/tv' ? <TvBoard /> : <Redirect to="/tv" />;
  if (path === '/tv') return <TvBoard />;
  const route = ROUTES.find((r) => r.path === path);
  let body;
  if (!route) {
    body = (
      <main id="main">
        <Empty title="Page not found">
          <p>
            There is nothing at <code>{path}</code>. Go to the <a href="/">live board</a>.
          </p>
        </Empty>
      </main>
    );
  } else if (route.admin && !isAdmin.value) {
    body = (
      <main id="main">
        <Empty title={route.label}>
          <p>This page is for admins. Ask an admin of your plant if you need a change here.</p>
        </Empty>
      </main>
    );
  } else {
    const Page = route.page;
    body = <Page />;
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Nav />
      {body}
    </>
  );
}

/**
 * `/kiosk#<display token>`: the link an admin made for a wall screen. Signs the screen in with
 * the token (kept out of the address from then on) and shows the TV board.
 */
function Kiosk() {
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    const token = window.location.hash.slice(1);
    history.replaceState(null, '', '/kiosk');
    if (!token) {
      setFailed('This link has no display token: copy the whole link from Settings → Displays.');
      return;
    }
    beginKiosk(token).then(
      () => {
        void document.documentElement.requestFullscreen?.().catch(() => {});
        navigate('/tv', true);
      },
      () => setFailed('This display link is not valid: it was revoked, or mistyped. Ask an admin for a new one.'),
    );
  }, []);
  return (
    <main id="main">
      {failed ? (
        <Empty title="Display link">
          <p role="alert">{failed}</p>
        </Empty>
      ) : (
        <Loading what="the display" />
      )}
    </main>
  );
}

export function App() {
  useEffect(() => {
    document.addEventListener('click', onLinkClick);
    return () => document.removeEventListener('click', onLinkClick);
  }, []);
  // A kiosk link signs in its screen, also over a person's session in that browser.
  if (location.value.path === '/kiosk' && (!session.value || window.location.hash.length > 1)) return <Kiosk />;
  if (!session.value) {
    const path = location.value.path;
    if (path === '/signup') return <SignUp />;
    if (path !== '/login') return <Redirect to="/login" />;
    return <SignIn />;
  }
  return <SignedIn />;
}
