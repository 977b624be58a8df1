// Tables sorted by one column at a time: what a click on a column's button does, and what the
// column's heading tells screen readers (`aria-sort`).

/** Sorted by `key`; `dir` 1 is smallest (or A, or oldest) first. */
export interface Sort<K extends string> {
  key: K;
  dir: 1 | -1;
}

/**
 * The sort after a click on `key`'s button: the other way round when the table is sorted by it
 * already, else `first` (figures and times read best biggest or newest first, names from A).
 */
export function toggleSort<K extends string>(current: Sort<K>, key: K, first: 1 | -1): Sort<K> {
  return current.key === key ? { key, dir: current.dir === 1 ? -1 : 1 } : { key, dir: first };
}

/** `aria-sort` of `key`'s column heading. */
export function ariaSort<K extends string>(current: Sort<K>, key: K): 'ascending' | 'descending' | 'none' {
  if (current.key !== key) return 'none';
  return current.dir === 1 ? 'ascending' : 'descending';
}
