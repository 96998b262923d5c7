// TinyBase's side of the derived-view workloads W9-W11 (cli/bench/notes.md, "Derived views";
// tinystore's side is `tinystore bench W9 …`, the same steps in core/benches/workloads/).
// ../shared/perf has no such workloads: these are ours, run the same way as its bench.mjs.
//
// Usage (from a folder whose node_modules has tinybase 10.0.1, e.g. target/perf/tinybase):
//   node --expose-gc views.mjs --child W9            # one run in this process
//   node --expose-gc views.mjs --child W9@10k
// Prints one JSON line per run: {workload, impl, run, ops, seconds, ops_per_s, rss_bytes, …}.
// The extra fields (listener calls, checksums) are deterministic: tinystore's run prints the
// same numbers, which the report compares.

import {createCheckpoints, createIndexes, createQueries, createStore} from 'tinybase';

import {assert, emit, now} from './bench-common.mjs';

// 32-bit LCG (Numerical Recipes constants); draw(n) uses the high 24 bits (as bench.mjs).
const lcg = (seed) => {
  let x = seed >>> 0;
  return (n) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x >>> 8) % n;
  };
};

const gc = () => globalThis.gc?.();
// FNV-1a over the ids, in order: a checksum both implementations compute alike.
const checksum = (ids, h = 0x811c9dc5) => {
  for (const id of ids) {
    for (let i = 0; i < id.length; i++) {
      h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
    }
    h = Math.imul(h ^ 0x2c, 0x01000193) >>> 0;
  }
  return h;
};

// W9: index upkeep. N rows of `items` in 100 slices (`slice` = 's' + i % 100), sorted by the
// number `key`; one slice-row-ids listener per slice. Timed: OPS single-cell writes, even
// ones moving a random row to a random slice, odd ones giving it a new sort key.
const W9 = (N) => {
  const OPS = 100_000;
  const store = createStore();
  store.transaction(() => {
    for (let i = 0; i < N; i++) {
      store.setRow('items', 'r' + i, {slice: 's' + (i % 100), key: (i * 7919) % N});
    }
  });
  const indexes = createIndexes(store);
  indexes.setIndexDefinition('bySlice', 'items', 'slice', 'key');
  let calls = 0;
  for (let s = 0; s < 100; s++) {
    indexes.addSliceRowIdsListener('bySlice', 's' + s, () => calls++);
  }
  const draw = lcg(9);
  gc();
  const t0 = now();
  for (let k = 0; k < OPS; k++) {
    const row = 'r' + draw(N);
    if (k % 2 == 0) {
      store.setCell('items', row, 'slice', 's' + draw(100));
    } else {
      store.setCell('items', row, 'key', draw(1_000_000));
    }
  }
  const seconds = (now() - t0) / 1000;
  // A from-scratch index over a copy of the final table (createIndexes is memoized per store:
  // a second one over `store` would be this same object) has the same slices holding the same
  // rows; rows with equal keys may be in another order (a moved row goes after the rows already
  // there), so order is checked by key.
  const copy = createStore().setTables(store.getTables());
  const fresh = createIndexes(copy).setIndexDefinition('bySlice', 'items', 'slice', 'key');
  const sorted = (ids) => JSON.stringify([...ids].sort());
  const key = (rowId) => store.getCell('items', rowId, 'key');
  assert(sorted(indexes.getSliceIds('bySlice')) == sorted(fresh.getSliceIds('bySlice')), 'W9 slice ids');
  let sum = 0;
  for (const sliceId of indexes.getSliceIds('bySlice')) {
    const ids = indexes.getSliceRowIds('bySlice', sliceId);
    assert(sorted(ids) == sorted(fresh.getSliceRowIds('bySlice', sliceId)), 'W9 rows of slice ' + sliceId);
    assert(ids.every((id, i) => i == 0 || key(ids[i - 1]) <= key(id)), 'W9 slice in key order ' + sliceId);
    sum = checksum(ids, sum);
  }
  assert(calls > 0, 'W9 listener calls');
  emit(N == 100_000 ? 'W9_index_upkeep' : `W9_index_upkeep@${N / 1000}k`, OPS, seconds, {
    rows: N,
    listener_calls: calls,
    checksum: sum,
  });
};

// W10: query upkeep. N pets (`species` = 'sp' + i % 1000, `price` = i % 100, `sold` = i % 3 == 0)
// and 1k species (`legs` = j % 5); the query byKind = select species, join species, select
// species.legs and price, where sold == false, group price by sum as total; a result-cell listener on
// total. Timed: OPS single-cell writes, even ones a new price, odd ones a new sold flag.
const W10 = (N) => {
  const OPS = 100_000;
  const store = createStore();
  store.transaction(() => {
    for (let j = 0; j < 1000; j++) {
      store.setRow('species', 'sp' + j, {legs: j % 5});
    }
    for (let i = 0; i < N; i++) {
      store.setRow('pets', 'p' + i, {species: 'sp' + (i % 1000), price: i % 100, sold: i % 3 == 0});
    }
  });
  const define = (queries) =>
    queries.setQueryDefinition('byKind', 'pets', ({select, join, where, group}) => {
      select('species');
      join('species', 'species');
      select('species', 'legs');
      select('price'); // TinyQL groups a selected cell (the spec's example omits this line)
      where('sold', false);
      group('price', 'sum').as('total');
    });
  const queries = define(createQueries(store));
  let calls = 0;
  queries.addResultCellListener('byKind', null, 'total', () => calls++);
  const draw = lcg(10);
  gc();
  const t0 = now();
  for (let k = 0; k < OPS; k++) {
    const row = 'p' + draw(N);
    if (k % 2 == 0) {
      store.setCell('pets', row, 'price', draw(100));
    } else {
      store.setCell('pets', row, 'sold', draw(2) == 0);
    }
  }
  const seconds = (now() - t0) / 1000;
  // Against a query over a copy of the final tables (createQueries is memoized per store);
  // grouped result rows are compared by content, their ids and order depending on the order
  // groups appeared in.
  const fresh = define(createQueries(createStore().setTables(store.getTables())));
  const rows = (table) =>
    JSON.stringify(
      Object.values(table)
        .map((row) => Object.entries(row).map(([k, v]) => k + '=' + v).sort().join(','))
        .sort(),
    );
  assert(rows(queries.getResultTable('byKind')) == rows(fresh.getResultTable('byKind')), 'W10 result');
  let total = 0;
  queries.forEachResultRow('byKind', (rowId) => (total += queries.getResultCell('byKind', rowId, 'total')));
  assert(calls > 0, 'W10 listener calls');
  emit(N == 100_000 ? 'W10_query_upkeep' : `W10_query_upkeep@${N / 1000}k`, OPS, seconds, {
    rows: N,
    listener_calls: calls,
    result_rows: queries.getResultRowCount('byKind'),
    total,
  });
};

// W11: checkpoints. 1,000 rows x 10 cells; timed: OPS transactions, each setting one random
// cell and adding a checkpoint (size OPS, so none is dropped), then OPS goBackward calls.
const W11 = () => {
  const OPS = 10_000;
  const store = createStore();
  store.transaction(() => {
    for (let i = 0; i < 1000; i++) {
      const row = {};
      for (let j = 0; j < 10; j++) row['c' + j] = i * 10 + j;
      store.setRow('t', 'r' + i, row);
    }
  });
  const before = JSON.stringify(store.getTables());
  const checkpoints = createCheckpoints(store).setSize(OPS);
  const draw = lcg(11);
  gc();
  const t0 = now();
  for (let k = 0; k < OPS; k++) {
    store.transaction(() => store.setCell('t', 'r' + draw(1000), 'c' + draw(10), -k - 1));
    checkpoints.addCheckpoint();
  }
  for (let k = 0; k < OPS; k++) {
    checkpoints.goBackward();
  }
  const seconds = (now() - t0) / 1000;
  const [backward, current, forward] = checkpoints.getCheckpointIds();
  assert(backward.length == 0 && current == '0' && forward.length == OPS, 'W11 ids');
  assert(JSON.stringify(store.getTables()) == before, 'W11 content back to the start');
  emit('W11_checkpoints', 2 * OPS, seconds, {checkpoints: OPS});
};

const WORKLOADS = {
  W9: () => W9(100_000),
  'W9@10k': () => W9(10_000),
  W10: () => W10(100_000),
  'W10@10k': () => W10(10_000),
  W11,
};

const args = process.argv.slice(2);
const name = args[0] == '--child' ? args[1] : args[0];
if (!WORKLOADS[name]) {
  console.error(`usage: node views.mjs --child ${Object.keys(WORKLOADS).join('|')}`);
  process.exit(2);
}
WORKLOADS[name]();
