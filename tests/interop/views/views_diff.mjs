#!/usr/bin/env node
// The TinyBase side of the derived-views differential test (see README.md here).
//
//   node views_diff.mjs --cases N [--seed S] [--only K] --out FILE
//   node views_diff.mjs --case CASE.json --out FILE      (replays one kept case)
//
// Generates N seeded random cases (store content, view definitions from cell ids and a fixed
// menu of named functions, op sequences with transactions, rollbacks, checkpoint moves and
// MergeableStore merges), runs each with the real TinyBase 10.0.1, and writes FILE: one JSON
// line with {seed, cases}, then one line per case {index, case, trace}. The trace holds, after
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

// TinyQL's named functions (calculated selects, where functions, join functions).
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
const JOIN_FNS = {
  next: (g, r) => 'r' + ((Number(r.slice(1)) + 1) % 6),
  kOf: (g) => g('k'),
};

// A query definition is a list of clauses (the same in views_diff.rs).
const buildQuery = (clauses) => ({select, join, where, group, having, param}) => {
  const as = (x, alias) => (alias == null ? x : x.as(alias));
  for (const [kind, ...a] of clauses) {
    if (kind == 'select') {
      as(select(a[0]), a[1]);
    } else if (kind == 'selectFrom') {
      as(select(a[0], a[1]), a[2]);
    } else if (kind == 'selectFn') {
      select(SELECT_FNS[a[0]]).as(a[1]);
    } else if (kind == 'join') {
      const on = typeof a[1] == 'string' ? a[1] : JOIN_FNS[a[1].fn];
      as(a[3] == null ? join(a[0], on) : join(a[0], a[3], on), a[2]);
    } else if (kind == 'where') {
      where(a[0], a[1]);
    } else if (kind == 'whereParam') {
      where(a[0], param(a[1]));
    } else if (kind == 'whereFn') {
      where(WHERE_FNS[a[0]]);
    } else if (kind == 'group') {
      as(group(a[0], a[1]), a[2]);
    } else if (kind == 'having') {
      having(a[0], a[1]);
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
      x.addResultTableListener(null, (_, q) => log.push(['resultTable', q]));
      x.addResultRowIdsListener(null, (_, q) => log.push(['resultRowIds', q]));
      x.addResultCellListener(null, null, null, (_, q, r, c, n, p) =>
        log.push(['resultCell', q, r, c, opt(n), opt(p)]),
      );
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
      ]);
      const st = q.getListenerStats();
      s.queryStats = [st.table, st.rowIds, st.cell];
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
      return o.queries.setQueryDefinition(a[0], a[1], buildQuery(a[2]), a[3]);
    case 'delQueryDefinition':
      return o.queries.delQueryDefinition(a[0]);
    case 'setParamValue':
      return o.queries.setParamValue(a[0], a[1], a[2]);
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
    queries: ['q0', 'q1'],
  };
  // TinyBase calls the query ids listeners when an unknown query is deleted, tinystore does not
  // (see README.md, Known differences): queries deleted are ones defined before.
  const definedQueries = new Set();
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
      const id = pick(ids.queries);
      definedQueries.add(id);
      return ['setQueryDefinition', id, pick(TABLES), queryClauses(), {p0: pick(PLAIN_VALUES)}];
    }
    return null;
  };
  // A TinyQL definition from the menu: selects (root, joined, calculated), joins (direct and
  // through an intermediate table), wheres, groups with their aggregates and havings.
  const queryClauses = () => {
    const clauses = [];
    const selected = [];
    const numeric = new Set();
    const fromJoins = new Set();
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
    if (chance(0.5)) {
      const on = () => (chance(0.7) ? 'k' : {fn: pick(Object.keys(JOIN_FNS))});
      clauses.push(['join', pick(TABLES), on(), 'j1', null]);
      joined.push('j1');
      // Through the intermediate table: only without checkpoints, whose undo can take `k` off a
      // root row (TinyBase then keeps the joins made through it).
      if (!has('checkpoints') && chance(0.4)) {
        clauses.push(['join', pick(TABLES), 'k', 'j2', 'j1']);
        joined.push('j2');
      }
    }
    const selects = 1 + int(3);
    for (let i = 0; i < selects; i++) {
      const roll = int(10);
      if (roll < 5) {
        const c = pick([...CELLS, 'n', 'k']);
        const alias = chance(0.3) ? 'a' + c : null;
        addSelect(['select', c, alias], alias ?? c, c == 'n');
      } else if (roll < 8 && joined.length) {
        const j = pick(joined);
        const c = pick([...CELLS, 'n']);
        addSelect(['selectFrom', j, c, j + c], j + c, c == 'n', true);
      } else {
        const f = pick(Object.keys(SELECT_FNS));
        addSelect(['selectFn', f, 'f' + f], 'f' + f, f != 'joinedC0', f == 'joinedC0');
      }
    }
    const wheres = chance(0.45) ? 1 + int(2) : 0;
    for (let i = 0; i < wheres; i++) {
      const roll = int(3);
      clauses.push(
        roll == 0
          ? ['where', pick([...CELLS, 'n']), pick(PLAIN_VALUES)]
          : roll == 1
            ? ['whereParam', pick([...CELLS, 'n']), 'p0']
            : ['whereFn', pick(Object.keys(WHERE_FNS))],
      );
    }
    if (chance(0.4)) {
      // TinyQL aggregates selected cells only; sum/avg/min/max only numbers.
      const grouped = new Set();
      const groupOn = (c) => {
        const agg = numeric.has(c) ? pick(['count', 'sum', 'avg', 'min', 'max']) : 'count';
        clauses.push(['group', c, agg, chance(0.5) ? agg + c : null]);
        grouped.add(c);
      };
      const groups = 1 + int(2);
      for (let i = 0; i < groups; i++) {
        groupOn(pick(selected));
      }
      // Cells from joins are aggregated, never grouped by: a joined row's listener can change
      // a root row's joined cell and change it back within one transaction, and TinyBase then
      // moves the row out of its group and back in (see README.md, Known differences).
      [...fromJoins].filter((c) => !grouped.has(c)).forEach(groupOn);
      // Having on a group-by cell only: a group's visibility then never changes, so no hidden
      // group keeps a row id another group could reuse (see README.md).
      const keys = selected.filter((c) => !grouped.has(c));
      if (keys.length && chance(0.5)) {
        clauses.push(['having', pick(keys), pick(PLAIN_VALUES)]);
      }
    }
    return clauses;
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
      return ['setParamValue', pick(ids.queries), 'p0', pick(PLAIN_VALUES)];
    }
    if (roll < 7) {
      return ['delListener', k, String(int(10))];
    }
    return define();
  };
  const init = [['setTables', {t0: table(false), t1: table(false)}]];
  const ops = [];
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
    throw new Error('usage: node views_diff.mjs --cases N [--seed S] [--only K] --out FILE');
  }
  const lines = [JSON.stringify({seed, cases})];
  const caseFile = arg('--case');
  if (caseFile !== undefined) {
    // Replays one case file (as kept by a failing run, possibly edited by hand).
    const c = JSON.parse(readFileSync(caseFile, 'utf8'));
    lines.push(JSON.stringify({index: 0, case: c, trace: runCase(c)}));
    writeFileSync(out, lines.join('\n') + '\n');
    return;
  }
  let discarded = 0;
  for (let index = 0; index < cases; index++) {
    if (only !== undefined && index != Number(only)) {
      continue;
    }
    const rnd = mulberry32(seed * 1000003 + index);
    for (;;) {
      const c = generateCase(rnd);
      try {
        lines.push(JSON.stringify({index, case: c, trace: runCase(c)}));
        break;
      } catch (e) {
        // A case on which TinyBase itself throws is replaced (counted below).
        discarded++;
        if (discarded > cases) {
          throw e;
        }
      }
    }
  }
  writeFileSync(out, lines.join('\n') + '\n');
  console.log(`views_diff.mjs: seed ${seed}, ${cases} cases, ${discarded} discarded`);
};

main();
