import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { edited, leaveQuestion, listed } from './unsaved';

describe('edited', () => {
  it('compares what a form holds with what is saved, by value', () => {
    const saved = { shifts: [{ name: 'Early', breaks: [] }], from: '2026-11-23' };
    expect(edited(structuredClone(saved), saved)).toBe(false);
    expect(edited({ ...saved, from: '2026-11-24' }, saved)).toBe(true);
    expect(edited({ ...saved, shifts: [] }, saved)).toBe(true);
  });
});

describe('leaveQuestion', () => {
  it('says what is not saved', () => {
    expect(leaveQuestion(['the shifts'])).toBe('You have unsaved changes to the shifts. Leave without saving?');
    expect(listed(['the shifts', 'a new alert rule', 'the reason “Jam”'])).toBe('the shifts, a new alert rule and the reason “Jam”');
    expect(listed(['the shifts', 'the shifts'])).toBe('the shifts');
    expect(leaveQuestion([])).toBe('You have unsaved changes to this page. Leave without saving?');
  });
});

// The router's list of unsaved edits, against a stand-in for the browser's window.
describe('router: leaving with unsaved edits', () => {
  const listeners = new Map<string, Set<(e: Event) => void>>();
  const confirm = vi.fn<(q: string) => boolean>();
  const pushState = vi.fn((_: unknown, __: string, url: string) => {
    const u = new URL(url, 'http://plant.example');
    win.location.pathname = u.pathname;
    win.location.search = u.search;
  });
  const win = {
    location: { pathname: '/settings', search: '', href: 'http://plant.example/settings' },
    history: { pushState, replaceState: pushState },
    confirm,
    scrollTo: () => {},
    addEventListener: (type: string, f: (e: Event) => void) => listeners.set(type, (listeners.get(type) ?? new Set()).add(f)),
    removeEventListener: (type: string, f: (e: Event) => void) => listeners.get(type)?.delete(f),
  };
  let router: typeof import('./router');

  beforeAll(async () => {
    vi.stubGlobal('window', win);
    router = await import('./router');
  });
  afterEach(() => {
    confirm.mockReset();
    pushState.mockClear();
  });

  it('goes without asking while nothing is unsaved, and listens to beforeunload only while something is', () => {
    router.navigate('/analytics');
    expect(confirm).not.toHaveBeenCalled();
    expect(router.location.value.path).toBe('/analytics');
    expect(listeners.get('beforeunload')?.size ?? 0).toBe(0);
    const release = router.holdUnsaved('the shifts');
    expect(listeners.get('beforeunload')?.size).toBe(1);
    const event = { preventDefault: vi.fn(), returnValue: undefined as unknown };
    for (const f of listeners.get('beforeunload')!) f(event as unknown as Event);
    expect(event.preventDefault).toHaveBeenCalled();
    release();
    expect(listeners.get('beforeunload')?.size).toBe(0);
  });

  it('asks before another page, stays when told to, goes when agreed', () => {
    const release = router.holdUnsaved('the shifts');
    confirm.mockReturnValueOnce(false);
    router.navigate('/stops');
    expect(confirm).toHaveBeenCalledWith('You have unsaved changes to the shifts. Leave without saving?');
    expect(router.location.value.path).toBe('/analytics');
    // The same page with another query (a filter) is not leaving.
    router.navigate('/analytics?bucket=day');
    expect(confirm).toHaveBeenCalledTimes(1);
    confirm.mockReturnValueOnce(true);
    router.navigate('/stops');
    expect(router.location.value.path).toBe('/stops');
    release();
    router.navigate('/settings');
    expect(confirm).toHaveBeenCalledTimes(2);
  });

  it('puts the address back when Back would leave and the person stays', () => {
    const release = router.holdUnsaved('a new report');
    win.location.pathname = '/stops';
    confirm.mockReturnValueOnce(false);
    for (const f of listeners.get('popstate')!) f({} as Event);
    expect(router.location.value.path).toBe('/settings');
    expect(pushState).toHaveBeenCalledWith(null, '', '/settings');
    release();
  });
});
