// The heading of a sortable <Table> column: a button that sorts by the column, an arrow for the
// eye and `aria-sort` for screen readers.

import { type Sort, ariaSort, toggleSort } from './sort';
import type { Column } from './ui';

/**
 * A column of a <Table> sorted by `key` when its heading is pressed; pressed again, the other way
 * round. `first` is the way a first press sorts: biggest first for figures (`num`), A first for
 * text, unless said otherwise.
 */
export function sortHeader<K extends string>(
  sort: Sort<K>,
  onSort: (next: Sort<K>) => void,
  key: K,
  label: string,
  options: { num?: boolean; first?: 1 | -1 } = {},
): Column {
  const state = ariaSort(sort, key);
  return {
    num: options.num,
    sort: state,
    label: (
      <button type="button" class="sort" onClick={() => onSort(toggleSort(sort, key, options.first ?? (options.num ? -1 : 1)))}>
        {label}
        <span aria-hidden="true">{state === 'ascending' ? ' ▲' : state === 'descending' ? ' ▼' : ''}</span>
      </button>
    ),
  };
}
