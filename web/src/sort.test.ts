import { describe, expect, it } from 'vitest';
import { ariaSort, toggleSort } from './sort';

describe('toggleSort', () => {
  it('sorts a new column the way asked first', () => {
    expect(toggleSort({ key: 'start', dir: -1 }, 'duration', -1)).toEqual({ key: 'duration', dir: -1 });
    expect(toggleSort({ key: 'start', dir: -1 }, 'name', 1)).toEqual({ key: 'name', dir: 1 });
  });

  it('turns the sorted column round, whatever way it sorts first', () => {
    expect(toggleSort({ key: 'start', dir: -1 }, 'start', -1)).toEqual({ key: 'start', dir: 1 });
    expect(toggleSort({ key: 'start', dir: 1 }, 'start', -1)).toEqual({ key: 'start', dir: -1 });
    expect(toggleSort({ key: 'name', dir: 1 }, 'name', 1)).toEqual({ key: 'name', dir: -1 });
  });
});

describe('ariaSort', () => {
  it.each([
    [{ key: 'start', dir: -1 } as const, 'start', 'descending'],
    [{ key: 'start', dir: 1 } as const, 'start', 'ascending'],
    [{ key: 'start', dir: 1 } as const, 'duration', 'none'],
  ])('%o on %s reads %s', (sort, key, state) => {
    expect(ariaSort<string>(sort, key)).toBe(state);
  });
});
