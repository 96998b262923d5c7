#!/usr/bin/env node
// The TinyBase side of the derived-views differential test (see README.md here).
//
//   node views_diff.mjs --cases N [--seed S] [--only K] --out FILE|-
//   node views_diff.mjs --case CASE.json --out FILE|-      (replays one kept case)
//
// Generates N seeded random cases (store content, view definitions from cell ids and a fixed
// menu of named functions, op sequences with transactions, rollbacks, checkpoint moves and
// MergeableStore merges), runs each with the real TinyBase 10.0.1, and writes FILE (`-`:
// stdout, line by line as the cases are run): one JSON line with {seed, cases}, then one line
// per case {index, case, trace}, then {done: true, discarded}. The trace holds, after
// the set-up and after every op, the view listener calls made (in order, together with a
// wildcard store Table listener and the Tables listener, to pin where view listeners fire
// relative to the store's own) and the result of every getter. core/tests/views_diff.rs runs
// the same cases with tinystore and compares the traces step by step.
//
// Every named function below has a twin in core/tests/views_diff.rs that must behave the
// same; Queries plug in as the `queries` object kind (TinyQL definitions as clause lists).

import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..', '..');

const nodeModules = resolve(
  process.env.TINYSTORE_NODE_MODULES || join(REPO_ROOT, 'target', 'kit', 'node_modules'),
);

const load = async () => {
  const pkgFile = join(nodeModules, 'tinybase', 'package.json');
  if (!existsSync(pkgFile)) {
    throw new Error(
      `TinyBase not found: ${pkgFile} is missing. Run \`make kit\` or set TINYSTORE_NODE_MODULES.`,
    );
  }
  const version = JSON.parse(readFileSync(pkgFile, 'utf8')).version;
  if (version != '10.0.1') {
    throw new Error(`expected tinybase 10.0.1 in ${nodeModules}, found ${version}`);
  }
  return import(pathToFileURL(join(nodeModules, 'tinybase', 'index.js')).href);
};

// ------------------------------------------------------------------ the function menus

const TB = await load();
const {defaultSorter} = TB;

const SLICE_FNS = {
  parity: (g, r) => (r.charCodeAt(r.length - 1) % 2 ? 'odd' : 'even'),
  multi: (g) => {
    const v = g('c0');
    return typeof v == 'string' ? [v, 'all'] : ['all'];
  },
  none: () => [],
  undef: () => undefined,
  bucket: (g) => {
    const v = g('c1');
    return typeof v == 'number' ? (v > 2 ? 'hi' : 'lo') : undefined;
  },
};

const SORT_FNS = {
  neg: (g) => {
    const v = g('c1');
    return typeof v == 'number' ? -v : v;
  },
  rowId: (g, r) => r,
  c2: (g) => g('c2'),
};

const toNum = (v) => Number(v ?? 0) || 0;
const ROW_SORTERS = {
  desc: (a, b) => defaultSorter(b, a),
  bySlice: (a, b, s) => (s.length % 2 ? defaultSorter(a, b) : defaultSorter(b, a)),
  numeric: (a, b) => toNum(a) - toNum(b),
};

const SLICE_SORTERS = {
  alpha: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  rev: (a, b) => (a < b ? 1 : a > b ? -1 : 0),
};

const REMOTE_FNS = {
  c2str: (g) => {
    const v = g('c2');
    return typeof v == 'string' ? v : undefined;
  },
  fixed: () => 'r0',
  next: (g, r) => 'r' + ((Number(r.slice(1)) + 1) % 6),
};

const NUMBER_FNS = {
  double: (g) => {
    const v = g('c1');
    return typeof v == 'number' ? v * 2 : undefined;
  },
  asString: (g) => {
    const v = g('c1');
    return typeof v == 'number' ? String(v) : v;
  },
  rowNum: (g, r) => Number(r.slice(1)),
};

const AGGREGATES = {
  count: [(ns, len) => len, (m) => m + 1, (m) => m - 1, (m) => m],
  first: [(ns) => ns[0]],
  sumsq: [
    (ns) => ns.reduce((s, n) => s + n * n, 0),
    (m, a) => m + a * a,
    undefined,
    (m, a, r) => m - r * r + a * a,
  ],
  lenHooks: [(ns, len) => len * 10, (m, a, l) => (l + 1) * 10, (m, r, l) => (l - 1) * 10 || undefined],
};

// TinyQL's named functions (calculated selects, where functions, join functions, havings,
// select-all cell id mappers).
const num = (v) => (typeof v == 'number' ? v : undefined);
const SELECT_FNS = {
  dbl: (g) => (num(g('n')) === undefined ? undefined : g('n') * 2),
  joinedC0: (g) => g('j1', 'c0'),
  idLen: (g, r) => r.length + (num(g('n')) ?? 0),
};
const WHERE_FNS = {
  c1big: (g) => typeof g('c1') == 'number' && g('c1') > 1,
  notB: (g) => g('c0') !== 'b',
};
// Root row ids are r0..r5, or a query's result row ids ("0", "1", … when it groups).
const JOIN_FNS = {
  next: (g, r) => 'r' + ((Number(r.slice(1)) + 1) % 6),
  kOf: (g) => g('k'),
};
const HAVING_FNS = {
  notB: (c) => (g) => g(c) !== 'b',
  defined: (c) => (g) => g(c) !== undefined,
};
const CELL_MAPPERS = {
  wrap: (c) => '<' + c + '>',
};

// A query definition is a list of clauses (the same in views_diff/queries.rs). A join's table
// is a table id or {"q": queryId} (a query's result, `join(true, …)`).
const buildQuery = (clauses) => ({select, selectAll, join, where, group, having, param}) => {
  const as = (x, alias) => (alias == null ? x : x.as(alias));
  for (const [kind, ...a] of clauses) {
    if (kind == 'select') {
      as(select(a[0]), a[1]);
    } else if (kind == 'selectFrom') {
      as(a[3] ? select(true, a[0], a[1]) : select(a[0], a[1]), a[2]);
    } else if (kind == 'selectFn') {
      select(SELECT_FNS[a[0]]).as(a[1]);
    } else if (kind == 'selectAll') {
      // [joinAlias|null, prefix|null|{fn}, asQuery]
      const m = a[1] != null && typeof a[1] == 'object' ? CELL_MAPPERS[a[1].fn] : a[1];
      if (a[2]) {
        selectAll(true, a[0], m ?? undefined);
      } else if (a[0] == null && m == null) {
        selectAll();
      } else {
        selectAll(a[0] ?? undefined, m ?? undefined);
      }
    } else if (kind == 'join') {
      const on = typeof a[1] == 'string' ? a[1] : JOIN_FNS[a[1].fn];
      const q = typeof a[0] == 'object';
      const t = q ? a[0].q : a[0];
      const j = q
        ? a[3] == null ? join(true, t, on) : join(true, t, a[3], on)
        : a[3] == null ? join(t, on) : join(t, a[3], on);
      as(j, a[2]);
    } else if (kind == 'where') {
      where(a[0], a[1]);
    } else if (kind == 'whereFrom') {
      a[3] ? where(true, a[0], a[1], a[2]) : where(a[0], a[1], a[2]);
    } else if (kind == 'whereParam') {
      where(a[0], param(a[1]));
    } else if (kind == 'whereFn') {
      where(WHERE_FNS[a[0]]);
    } else if (kind == 'group') {
      as(group(a[0], a[1]), a[2]);
    } else if (kind == 'having') {
      having(a[0], a[1]);
    } else if (kind == 'havingFn') {
      having(HAVING_FNS[a[0]](a[1]));
    } else {
      throw new Error(`bad clause ${kind}`);
    }
  }
};

// Sorted result row id probes: [cellId, descending, offset, limit]. The cells that may hold
// objects/arrays are probed only in cases without them (see README.md, Known differences).
const SORTS = [
  [null, false, 0, null],
  ['n', true, 0, null],
  ['k', false, 1, 2],
];
const PLAIN_SORTS = [...SORTS, ['c0', true, 1, 2], ['c1', false, 0, 3]];
const opt = (v) => (v === undefined ? [] : [v]);
// Result row ids: a root row id, or a group's.
const RESULT_ROW_PROBES = ['r0', 'r3', '0', '1', '2'];

const source = (spec, menu) =>
  spec == null ? undefined : spec.cell !== undefined ? spec.cell : menu[spec.fn];

// ------------------------------------------------------------------ running a case

const TABLES = ['t0', 't1'];
const ROWS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
const CELLS = ['c0', 'c1', 'c2'];
const PROBES = [...ROWS, 'a', 'b', '', 'null', 'true', '1', '1.5', '[object Object]', 'x'];
const NOW = 1700000000000;

const STORE_OPS = new Set([
  'setCell', 'setRow', 'setPartialRow', 'setTable', 'setTables', 'setValue', 'setValues',
  'delCell', 'delRow', 'delTable', 'delTables', 'delValue', 'delValues',
]);

const applyStoreOps = (store, ops) =>
  ops.forEach(([name, ...args]) => {
    if (!STORE_OPS.has(name)) {
      throw new Error(`bad store op ${name}`);
    }
    store[name](...args);
  });

// Result and param listeners of every kind: the wildcard ones every Queries gets (the sorted
// row ids listener takes a query id), and those ops add ([kind, ...ids/args]).
const WILDCARD_QUERY_LISTENERS = [
  ['table', [null]],
  ['tableCellIds', [null]],
  ['rowCount', [null]],
  ['rowIds', [null]],
  ['row', [null, null]],
  ['cellIds', [null, null]],
  ['cell', [null, null, null]],
  ['paramValues', [null]],
  ['paramValue', [null, null]],
];
// Id changes as [id, 1 | -1] pairs sorted by id (TinyBase's object puts integer-like ids first).
const idChanges = (g) =>
  g ? Object.entries(g()).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) : null;
const addQueryListener = (x, log, tag, kind, a) => {
  const push = (...e) => log.push([tag, kind, ...e]);
  switch (kind) {
    case 'table':
      return x.addResultTableListener(a[0], (_, q) => push(q));
    case 'tableCellIds':
      return x.addResultTableCellIdsListener(a[0], (_, q, g) => push(q, idChanges(g)));
    case 'rowCount':
      return x.addResultRowCountListener(a[0], (_, q, n) => push(q, n));
    case 'rowIds':
      return x.addResultRowIdsListener(a[0], (_, q, g) => push(q, idChanges(g)));
    case 'sortedRowIds':
      return x.addResultSortedRowIdsListener(a[0], a[1] ?? undefined, a[2], a[3], a[4] ?? undefined,
        (_, q, c, d, off, l, ids) => push(q, c ?? null, d, off, l ?? null, ids));
    case 'row':
      return x.addResultRowListener(a[0], a[1], (_, q, r) => push(q, r));
    case 'cellIds':
      return x.addResultCellIdsListener(a[0], a[1], (_, q, r, g) => push(q, r, idChanges(g)));
    case 'cell':
      return x.addResultCellListener(a[0], a[1], a[2], (_, q, r, c, n, p) =>
        push(q, r, c, opt(n), opt(p)),
      );
    case 'paramValues':
      return x.addParamValuesListener(a[0], (_, q, v) => push(q, v));
    case 'paramValue':
      return x.addParamValueListener(a[0], a[1], (_, q, p, v) => push(q, p, opt(v)));
    default:
      throw new Error(`bad query listener ${kind}`);
  }
};

export const runCase = (c) => {
  const log = [];
  const store = c.mergeable ? TB.createMergeableStore('views', () => NOW) : TB.createStore();
  applyStoreOps(store, c.init);
  if (c.mutator) {
    // A mutator listener writing into the transaction: views see its writes too.
    store.addCellListener(
      't0',
      null,
      'c0',
      (s, _t, r, _c, cell) => s.setCell('t1', r, 'c1', typeof cell == 'number' ? cell + 1 : 'm'),
      true,
    );
  }
  store.addTableListener(null, (_, t) => log.push(['storeTable', t]));
  store.addTablesListener(() => log.push(['storeTables']));
  const o = {};
  for (const kind of c.objects) {
    if (kind == 'indexes') {
      const x = (o.indexes = TB.createIndexes(store));
      x.addIndexIdsListener(() => log.push(['indexIds']));
      x.addHasIndexListener(null, (_, i, h) => log.push(['hasIndex', i, h]));
      x.addSliceIdsListener(null, (_, i) => log.push(['sliceIds', i]));
      x.addHasSliceListener(null, null, (_, i, s, h) => log.push(['hasSlice', i, s, h]));
      x.addSliceRowIdsListener(null, null, (_, i, s) => log.push(['sliceRowIds', i, s]));
    } else if (kind == 'relationships') {
      const x = (o.relationships = TB.createRelationships(store));
      x.addRelationshipIdsListener(() => log.push(['relationshipIds']));
      x.addRemoteRowIdListener(null, null, (_, r, l) => log.push(['remoteRowId', r, l]));
      x.addLocalRowIdsListener(null, null, (_, r, l) => log.push(['localRowIds', r, l]));
    } else if (kind == 'metrics') {
      const x = (o.metrics = TB.createMetrics(store));
      x.addMetricIdsListener(() => log.push(['metricIds']));
      x.addMetricListener(null, (_, m, n, p) => log.push(['metric', m, n ?? null, p ?? null]));
    } else if (kind == 'checkpoints') {
      const x = (o.checkpoints = TB.createCheckpoints(store));
      x.addCheckpointIdsListener(() => log.push(['checkpointIds']));
      x.addCheckpointListener(null, (_, id) => log.push(['checkpoint', id]));
    } else if (kind == 'queries') {
      // createQueries is memoized per store: one Queries per store, as on the Rust side.
      const x = (o.queries = TB.createQueries(store));
      x.addQueryIdsListener(() => log.push(['queryIds']));
      for (const [k, args] of WILDCARD_QUERY_LISTENERS) {
        addQueryListener(x, log, 'w', k, args);
      }
    }
  }
  const snapshot = () => {
    const st = store.getListenerStats();
    const s = {store: store.getJson(), storeListeners: [st.row, st.table, st.cell, st.value, st.transaction]};
    const {indexes: i, relationships: r, metrics: m, checkpoints: k} = o;
    if (i) {
      s.indexes = i.getIndexIds().map((id) => [
        id,
        i.getTableId(id),
        i.getSliceIds(id).map((sl) => [sl, i.getSliceRowIds(id, sl)]),
      ]);
      s.indexStats = [i.getListenerStats().sliceIds, i.getListenerStats().sliceRowIds];
    }
    if (r) {
      s.relationships = r.getRelationshipIds().map((id) => [
        id,
        r.getLocalTableId(id),
        r.getRemoteTableId(id),
        ROWS.map((row) => r.getRemoteRowId(id, row) ?? null),
        PROBES.map((p) => r.getLocalRowIds(id, p)),
        ROWS.map((row) => r.getLinkedRowIds(id, row)),
      ]);
      const st = r.getListenerStats();
      s.relationshipStats = [st.remoteRowId, st.localRowIds, st.linkedRowIds];
    }
    if (m) {
      s.metrics = m.getMetricIds().map((id) => [id, m.getTableId(id), m.getMetric(id) ?? null]);
    }
    if (k) {
      const [back, current, forward] = k.getCheckpointIds();
      const labels = [];
      k.forEachCheckpoint((id, label) => labels.push([id, label]));
      s.checkpoints = [back, current ?? null, forward, labels];
    }
    const q = o.queries;
    if (q) {
      s.queries = q.getQueryIds().map((id) => [
        id,
        q.getTableId(id),
        q.getResultTable(id),
        q.getResultRowIds(id),
        (c.jsonCells ? SORTS : PLAIN_SORTS).map(([c, d, off, l]) => q.getResultSortedRowIds(id, c ?? undefined, d, off, l ?? undefined)),
        q.getResultRowCount(id),
        q.getResultTableCellIds(id),
        q.getResultRowIds(id).map((r) => q.getResultCellIds(id, r)),
        q.getParamValues(id),
        q.hasResultTable(id),
        RESULT_ROW_PROBES.map((r) => [q.hasResultRow(id, r), q.hasResultCell(id, r, 'n')]),
      ]);
      const st = q.getListenerStats();
      s.queryStats = [st.table, st.tableCellIds, st.rowCount, st.rowIds, st.sortedRowIds, st.row,
        st.cellIds, st.cell, st.paramValues, st.paramValue];
    }
    return s;
  };
  const trace = [{events: log.splice(0), state: snapshot()}];
  for (const op of c.ops) {
    applyOp(store, o, log, op);
    trace.push({events: log.splice(0), state: snapshot()});
  }
  return trace;
};

const applyOp = (store, o, log, op) => {
  const [name, ...a] = op;
  switch (name) {
    case 'transaction':
      return store.transaction(() => applyStoreOps(store, a[0]));
    case 'rollback':
      return store.transaction(
        () => applyStoreOps(store, a[0]),
        () => true,
      );
    case 'mixed':
      return store.transaction(() => a[0].forEach((inner) => applyOp(store, o, log, inner)));
    case 'merge': {
      const other = TB.createMergeableStore('other', () => NOW + 1);
      applyStoreOps(other, a[0]);
      return store.merge(other);
    }
    case 'setIndexDefinition':
      return o.indexes.setIndexDefinition(
        a[0],
        a[1],
        source(a[2], SLICE_FNS),
        source(a[3], SORT_FNS),
        a[4] == null ? undefined : SLICE_SORTERS[a[4]],
        a[5] == null ? undefined : ROW_SORTERS[a[5]],
      );
    case 'delIndexDefinition':
      return o.indexes.delIndexDefinition(a[0]);
    case 'setRelationshipDefinition':
      return o.relationships.setRelationshipDefinition(a[0], a[1], a[2], source(a[3], REMOTE_FNS));
    case 'delRelationshipDefinition':
      return o.relationships.delRelationshipDefinition(a[0]);
    case 'addLinkedRowIdsListener':
      return log.push([
        'listenerId',
        o.relationships.addLinkedRowIdsListener(a[0], a[1], (_, r, f) =>
          log.push(['linkedRowIds', r, f]),
        ),
      ]);
    case 'delListener':
      return o[a[0]].delListener(a[1]);
    case 'setMetricDefinition': {
      const custom = a[2]?.custom;
      const [agg, add, remove, replace] = custom ? AGGREGATES[custom] : [a[2]];
      return o.metrics.setMetricDefinition(a[0], a[1], agg, source(a[3], NUMBER_FNS), add, remove, replace);
    }
    case 'delMetricDefinition':
      return o.metrics.delMetricDefinition(a[0]);
    case 'destroy':
      return o[a[0]].destroy();
    case 'setQueryDefinition':
      // The table is a table id, or {"q": rootQueryId} for a query on a query's result.
      return typeof a[1] == 'object'
        ? o.queries.setQueryDefinition(a[0], true, a[1].q, buildQuery(a[2]), a[3])
        : o.queries.setQueryDefinition(a[0], a[1], buildQuery(a[2]), a[3]);
    case 'delQueryDefinition':
      return o.queries.delQueryDefinition(a[0]);
    case 'setParamValue':
      return o.queries.setParamValue(a[0], a[1], a[2]);
    case 'setParamValues':
      return o.queries.setParamValues(a[0], a[1]);
    case 'addQueryListener':
      return log.push(['listenerId', addQueryListener(o.queries, log, 'o', a[0], a.slice(1))]);
    case 'addCheckpoint':
      return log.push(['checkpointAdded', o.checkpoints.addCheckpoint(a[0])]);
    case 'setCheckpoint':
      return o.checkpoints.setCheckpoint(a[0], a[1]);
    case 'goBackward':
      return o.checkpoints.goBackward();
    case 'goForward':
      return o.checkpoints.goForward();
    case 'goTo':
      return o.checkpoints.goTo(a[0]);
    case 'clear':
      return o.checkpoints.clear();
    case 'clearForward':
      return o.checkpoints.clearForward();
    case 'setSize':
      return o.checkpoints.setSize(a[0]);
    default:
      return applyStoreOps(store, [op]);
  }
};

// ------------------------------------------------------------------ generating a case

const mulberry32 = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const makeGen = (rnd) => {
  const int = (n) => Math.floor(rnd() * n);
  const pick = (xs) => xs[int(xs.length)];
  const chance = (p) => rnd() < p;
  return {int, pick, chance};
};

const PLAIN_VALUES = [0, 1, 2, 3, 4, 1.5, -1, 'a', 'b', 'r0', 'r1', 'r2', 'r3', '', ' ', '10', '9', true, false, null];
const JSON_VALUES = [{x: 1}, [1], [], [1, 2]];

export const generateCase = (rnd) => {
  const {int, pick, chance} = makeGen(rnd);
  const mergeable = chance(0.3);
  // TinyBase 10.0.1 does not restore an object/array cell that a rolled-back transaction
  // overwrote (its rollback writes the encoded string back, which the store rejects), where
  // tinystore does: so a case has object/array cells or rollbacks, not both.
  const jsonCells = chance(0.5);
  const value = (plain) =>
    !plain && jsonCells && chance(0.08) ? pick(JSON_VALUES) : pick(PLAIN_VALUES);
  // Queries cases add a join key `k` (always a row id string, in every row written whole, never
  // deleted: TinyBase's quirks with other join keys are kept out, see README.md) and a number
  // cell `n` (what sum/avg/min/max aggregate: TinyBase adds strings and takes null as 0).
  const objects = ['indexes', 'relationships', 'metrics', 'checkpoints', 'queries'].filter(() =>
    chance(0.7),
  );
  if (objects.length == 0) {
    objects.push('indexes');
  }
  for (let i = objects.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [objects[i], objects[j]] = [objects[j], objects[i]];
  }
  const has = (k) => objects.includes(k);
  const queries = has('queries');
  const NUMBERS = [0, 1, 2, 3, 4, 1.5, -1];
  const row = (plain) => {
    const r = {};
    for (const c of CELLS) {
      if (chance(0.7)) {
        r[c] = value(plain);
      }
    }
    if (queries) {
      r.k = pick(ROWS);
      if (chance(0.7)) {
        r.n = pick(NUMBERS);
      }
    }
    return r;
  };
  const setCell = (t, r, plain) => {
    const roll = queries ? int(5) : 0;
    return roll == 3
      ? ['setCell', t, r, 'k', pick(ROWS)]
      : roll == 4
        ? ['setCell', t, r, 'n', pick(NUMBERS)]
        : ['setCell', t, r, pick(CELLS), value(plain)];
  };
  const table = (plain) => {
    const t = {};
    for (const r of ROWS) {
      if (chance(0.5)) {
        t[r] = row(plain);
      }
    }
    return t;
  };
  const storeOp = (plain) => {
    const t = pick(TABLES);
    const r = pick(ROWS);
    switch (int(12)) {
      case 0:
      case 1:
      case 2:
      case 3:
        return setCell(t, r, plain);
      case 4:
        return ['delCell', t, r, pick(queries ? [...CELLS, 'n'] : CELLS)];
      case 5:
        return ['setRow', t, r, row(plain)];
      case 6:
        return ['setPartialRow', t, r, row(plain)];
      case 7:
        return ['delRow', t, r];
      case 8:
        return chance(0.5) ? ['setTable', t, table(plain)] : ['delTable', t];
      case 9:
        return ['setValue', pick(['v0', 'v1']), value(plain)];
      case 10:
        return ['delValue', pick(['v0', 'v1'])];
      default:
        return setCell(t, r, plain);
    }
  };
  const storeOps = (plain) => Array.from({length: 1 + int(4)}, () => storeOp(plain));
  const spec = (menu) => (chance(0.5) ? {cell: pick(CELLS)} : {fn: pick(Object.keys(menu))});
  const maybe = (p, f) => (chance(p) ? f() : null);
  const ids = {
    indexes: ['i0', 'i1'],
    relationships: ['l0', 'l1'],
    metrics: ['m0', 'm1', 'm2'],
    queries: ['q0', 'q1', 'q2'],
  };
  // TinyBase calls the query ids listeners when an unknown query is deleted, tinystore does not
  // (see README.md, Known differences): queries deleted are ones defined before.
  const definedQueries = new Set();
  const resultCells = {};
  const define = () => {
    const k = pick(objects.filter((x) => x != 'checkpoints'));
    if (k == 'indexes') {
      return [
        'setIndexDefinition',
        pick(ids.indexes),
        pick(TABLES),
        maybe(0.8, () => spec(SLICE_FNS)),
        maybe(0.5, () => spec(SORT_FNS)),
        maybe(0.3, () => pick(Object.keys(SLICE_SORTERS))),
        maybe(0.3, () => pick(Object.keys(ROW_SORTERS))),
      ];
    }
    if (k == 'relationships') {
      const local = pick(TABLES);
      return [
        'setRelationshipDefinition',
        pick(ids.relationships),
        local,
        chance(0.5) ? local : pick(TABLES),
        spec(REMOTE_FNS),
      ];
    }
    if (k == 'metrics') {
      const agg = chance(0.7)
        ? pick(['sum', 'avg', 'min', 'max'])
        : {custom: pick(Object.keys(AGGREGATES))};
      return ['setMetricDefinition', pick(ids.metrics), pick(TABLES), agg, maybe(0.8, () => spec(NUMBER_FNS))];
    }
    if (k == 'queries') {
      // A query reads (as its root, a join or a select-all) only queries before it in
      // `ids.queries`: result stores never feed each other in a loop.
      const qi = int(ids.queries.length);
      const id = ids.queries[qi];
      const defined = ids.queries.slice(0, qi).filter((q) => definedQueries.has(q));
      const lower = defined.length && chance(0.8) ? defined : ids.queries.slice(0, qi);
      definedQueries.add(id);
      const root = lower.length && chance(0.4) ? {q: pick(lower)} : pick(TABLES);
      const clauses = queryClauses(lower, typeof root == 'object' ? root.q : null);
      resultCells[id] = clauses.resultCells;
      return ['setQueryDefinition', id, root, clauses.list, params()];
    }
    return null;
  };
  const params = () => {
    const p = {};
    for (const id of ['p0', 'p1']) {
      if (chance(0.6)) {
        p[id] = pick(PLAIN_VALUES);
      }
    }
    return p;
  };
  // A TinyQL definition from the menu: selects (root, joined, calculated, all cells), joins
  // (tables and query results, direct and through an intermediate join), wheres (root, joined,
  // param, function), groups with their aggregates and havings (cell or function). `lower`:
  // the queries it may read; `queryRoot`: whether its root is a query result.
  const queryClauses = (lower, rootQuery) => {
    const queryRoot = rootQuery != null;
    // The cells a root row or a joined row has: a table's, or those the query's last
    // definition made (so queries on queries select cells that exist).
    const cellsOf = (q) => (q == null ? [...CELLS, 'n', 'k'] : resultCells[q] ?? [...CELLS, 'n']);
    const rootCells = cellsOf(rootQuery);
    const clauses = [];
    const selected = [];
    const numeric = new Set();
    const fromJoins = new Set();
    const grouped = chance(0.4);
    const addSelect = (clause, cellId, isNumeric, isJoined = false) => {
      if (!selected.includes(cellId)) {
        clauses.push(clause);
        selected.push(cellId);
        if (isNumeric) {
          numeric.add(cellId);
        }
        if (isJoined) {
          fromJoins.add(cellId);
        }
      }
    };
    const joined = [];
    // A join made from a query result row uses the row id (`next`): a query's redefinition can
    // take `k` off its rows, and TinyBase keeps the joins made through a key that disappears.
    const on = (fromQuery) =>
      fromQuery ? {fn: 'next'} : chance(0.7) ? 'k' : {fn: pick(Object.keys(JOIN_FNS))};
    const target = () => (lower.length && chance(0.35) ? {q: pick(lower)} : pick(TABLES));
    if (chance(0.5)) {
      const t = target();
      const alias = typeof t == 'object' && chance(0.3) ? null : 'j1';
      clauses.push(['join', t, on(queryRoot), alias, null]);
      joined.push([alias ?? t.q, typeof t == 'object', typeof t == 'object' ? t.q : null]);
      // Through the intermediate table: only without checkpoints, whose undo can take `k` off a
      // root row (TinyBase then keeps the joins made through it).
      if (!has('checkpoints') && chance(0.4)) {
        const t2 = target();
        clauses.push(['join', t2, on(typeof t == 'object'), 'j2', alias ?? t.q]);
        joined.push(['j2', typeof t2 == 'object', typeof t2 == 'object' ? t2.q : null]);
      }
    }
    const mapping = () => pick([null, null, '', 'p.', {fn: 'wrap'}]);
    const mapped = (m, c) => (m == null ? c : typeof m == 'object' ? '<' + c + '>' : m + c);
    if (chance(0.25)) {
      // All cells of the root row, or (ungrouped: joined cells would be group-by cells, see
      // Known differences, 3) of a joined row.
      const [j, isQuery, q] = !grouped && joined.length && chance(0.5) ? pick(joined) : [null, false, rootQuery];
      const m = mapping();
      clauses.push(['selectAll', j, m, j != null && (isQuery || chance(0.2))]);
      for (const c of cellsOf(q)) {
        const id = mapped(m, c);
        if (!selected.includes(id)) {
          selected.push(id);
          if (c == 'n') {
            numeric.add(id);
          }
        }
      }
    }
    const selects = 1 + int(3);
    for (let i = 0; i < selects; i++) {
      const roll = int(10);
      if (roll < 5) {
        const c = pick(rootCells);
        const alias = chance(0.3) ? 'a' + c : null;
        addSelect(['select', c, alias], alias ?? c, c == 'n');
      } else if (roll < 8 && joined.length) {
        const [j, isQuery, q] = pick(joined);
        const c = pick(cellsOf(q));
        addSelect(['selectFrom', j, c, 'j' + c + j, isQuery && chance(0.5)], 'j' + c + j, c == 'n', true);
      } else {
        const f = pick(Object.keys(SELECT_FNS));
        addSelect(['selectFn', f, 'f' + f], 'f' + f, f != 'joinedC0', f == 'joinedC0');
      }
    }
    const wheres = chance(0.45) ? 1 + int(2) : 0;
    for (let i = 0; i < wheres; i++) {
      const roll = int(4);
      if (roll == 3 && joined.length) {
        const [j, isQuery, q] = pick(joined);
        clauses.push(['whereFrom', j, pick(cellsOf(q)), pick(PLAIN_VALUES), isQuery && chance(0.5)]);
        continue;
      }
      clauses.push(
        roll == 0
          ? ['where', pick(rootCells), pick(PLAIN_VALUES)]
          : roll == 1
            ? ['whereParam', pick(rootCells), pick(['p0', 'p1'])]
            : ['whereFn', pick(Object.keys(WHERE_FNS))],
      );
    }
    if (grouped) {
      // TinyQL aggregates selected cells only; sum/avg/min/max only numbers.
      const groupedCells = new Set();
      const groupOn = (c) => {
        const agg = numeric.has(c) ? pick(['count', 'sum', 'avg', 'min', 'max']) : 'count';
        clauses.push(['group', c, agg, chance(0.5) ? agg + c : null]);
        groupedCells.add(c);
      };
      const groups = 1 + int(2);
      for (let i = 0; i < groups; i++) {
        groupOn(pick(selected));
      }
      // Cells from joins are aggregated, never grouped by: a joined row's listener can change
      // a root row's joined cell and change it back within one transaction, and TinyBase then
      // moves the row out of its group and back in (see README.md, Known differences).
      [...fromJoins].filter((c) => !groupedCells.has(c)).forEach(groupOn);
      // Having on a group-by cell only: a group's visibility then never changes, so no hidden
      // group keeps a row id another group could reuse (see README.md).
      const keys = selected.filter((c) => !groupedCells.has(c));
      if (keys.length && chance(0.5)) {
        clauses.push(
          chance(0.5)
            ? ['having', pick(keys), pick(PLAIN_VALUES)]
            : ['havingFn', pick(Object.keys(HAVING_FNS)), pick(keys)],
        );
      }
      const aggregated = clauses.filter(([k]) => k == 'group').map(([, c, agg, as]) => as ?? c);
      return {list: clauses, resultCells: [...keys, ...aggregated]};
    }
    return {list: clauses, resultCells: selected};
  };
  // A result or param listener with specific or wildcard ids.
  const queryListener = () => {
    const q = () => (chance(0.7) ? pick(ids.queries) : null);
    const r = () => (chance(0.6) ? pick([...ROWS, '0', '1']) : null);
    const kind = pick(['table', 'tableCellIds', 'rowCount', 'rowIds', 'sortedRowIds', 'row',
      'cellIds', 'cell', 'paramValues', 'paramValue']);
    switch (kind) {
      case 'sortedRowIds': {
        const sorts = jsonCells ? SORTS : PLAIN_SORTS;
        return [kind, pick(ids.queries), ...pick(sorts)];
      }
      case 'row':
      case 'cellIds':
        return [kind, q(), r()];
      case 'cell':
        return [kind, q(), r(), chance(0.6) ? pick([...CELLS, 'n', 'k', 'count']) : null];
      case 'paramValue':
        return [kind, q(), chance(0.6) ? pick(['p0', 'p1']) : null];
      default:
        return [kind, q()];
    }
  };
  const viewOp = () => {
    const k = pick(objects);
    if (k == 'checkpoints') {
      switch (int(9)) {
        case 0:
        case 1:
          return ['addCheckpoint', pick(['', 'a', 'b'])];
        case 2:
          return ['setCheckpoint', String(int(6)), pick(['x', 'y'])];
        case 3:
        case 4:
          return ['goBackward'];
        case 5:
          return ['goForward'];
        case 6:
          return ['goTo', String(int(8))];
        case 7:
          return chance(0.5) ? ['clearForward'] : ['clear'];
        default:
          return ['setSize', 1 + int(4)];
      }
    }
    const roll = int(20);
    if (roll == 0) {
      if (k == 'queries') {
        definedQueries.clear();
      }
      return ['destroy', k];
    }
    if (roll < 3 && k == 'queries') {
      const id = pick([...definedQueries]);
      if (id === undefined) {
        return null;
      }
      definedQueries.delete(id);
      return ['delQueryDefinition', id];
    }
    if (roll < 3) {
      const del = {
        indexes: 'delIndexDefinition',
        relationships: 'delRelationshipDefinition',
        metrics: 'delMetricDefinition',
        queries: 'delQueryDefinition',
      }[k];
      return [del, pick(ids[k])];
    }
    if (k == 'relationships' && roll < 6) {
      return ['addLinkedRowIdsListener', pick(ids.relationships), pick(ROWS)];
    }
    if (k == 'queries' && roll < 6) {
      return chance(0.7)
        ? ['setParamValue', pick(ids.queries), pick(['p0', 'p1']), pick(PLAIN_VALUES)]
        : ['setParamValues', pick(ids.queries), params()];
    }
    if (k == 'queries' && roll < 9) {
      return ['addQueryListener', ...queryListener()];
    }
    if (roll < 7) {
      const id = String(int(k == 'queries' ? 30 : 10));
      return ['delListener', k, k == 'queries' && chance(0.3) ? 'p' + int(8) : id];
    }
    return define();
  };
  const init = [['setTables', {t0: table(false), t1: table(false)}]];
  const ops = [];
  // Listeners with specific ids from the start, so they see the definitions' results.
  for (let i = queries ? int(4) : 0; i > 0; i--) {
    ops.push(['addQueryListener', ...queryListener()]);
  }
  const definitions = 1 + int(4);
  for (let i = 0; i < definitions; i++) {
    const d = define();
    if (d) {
      ops.push(d);
    }
  }
  const n = 5 + int(30);
  for (let i = 0; i < n; i++) {
    const roll = rnd();
    if (roll < 0.55) {
      ops.push(storeOp(false));
    } else if (roll < 0.65) {
      ops.push(['transaction', storeOps(false)]);
    } else if (roll < 0.7 && !jsonCells && !mergeable) {
      // Only writes: TinyBase's rollback re-adds deleted cells and rows at the end, where
      // tinystore restores their positions (a store-level difference, not a views one).
      const writes = () => {
        const t = pick(TABLES);
        const r = pick(ROWS);
        return chance(0.6)
          ? ['setCell', t, r, pick(CELLS), value(false)]
          : chance(0.5)
            ? ['setPartialRow', t, r, row(false)]
            : ['setValue', pick(['v0', 'v1']), value(false)];
      };
      ops.push(['rollback', Array.from({length: 1 + int(4)}, writes)]);
    } else if (roll < 0.74 && mergeable) {
      ops.push(['merge', storeOps(true)]);
    } else if (roll < 0.78) {
      // Definitions and checkpoints in the middle of a transaction.
      const inner = storeOps(false);
      const d = chance(0.5) ? define() : has('checkpoints') ? ['addCheckpoint', 'm'] : null;
      if (d) {
        inner.splice(int(inner.length + 1), 0, d);
      }
      ops.push(['mixed', inner]);
    } else {
      const op = viewOp();
      if (op) {
        ops.push(op);
      }
    }
  }
  return {mergeable, jsonCells, mutator: chance(0.25), init, objects, ops};
};

// ------------------------------------------------------------------ main

const main = () => {
  const argv = process.argv.slice(2);
  const arg = (flag, dflt) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const cases = Number(arg('--cases', '1000'));
  const seed = Number(arg('--seed', String(Math.floor(Math.random() * 2 ** 31))));
  const only = arg('--only');
  const out = arg('--out');
  if (!out || !Number.isInteger(cases) || !Number.isInteger(seed)) {
    throw new Error('usage: node views_diff.mjs --cases N [--seed S] [--only K] --out FILE|-');
  }
  // `--out -` streams the lines to stdout as they are made, so the Rust side replays each case
  // while the next ones are generated.
  const lines = [];
  const emit = (x) => {
    const line = JSON.stringify(x) + '\n';
    if (out == '-') {
      process.stdout.write(line);
    } else {
      lines.push(line);
    }
  };
  emit({seed, cases});
  const caseFile = arg('--case');
  let discarded = 0;
  if (caseFile !== undefined) {
    // Replays one case file (as kept by a failing run, possibly edited by hand).
    const c = JSON.parse(readFileSync(caseFile, 'utf8'));
    emit({index: 0, case: c, trace: runCase(c)});
  } else {
    for (let index = 0; index < cases; index++) {
      if (only !== undefined && index != Number(only)) {
        continue;
      }
      const rnd = mulberry32(seed * 1000003 + index);
      for (;;) {
        const c = generateCase(rnd);
        let trace;
        try {
          trace = runCase(c);
        } catch (e) {
          // A case on which TinyBase itself throws is replaced (counted below).
          discarded++;
          if (discarded > cases) {
            throw e;
          }
          continue;
        }
        emit({index, case: c, trace});
        break;
      }
    }
  }
  emit({done: true, discarded});
  if (out != '-') {
    writeFileSync(out, lines.join(''));
  }
};

main();
