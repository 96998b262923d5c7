// TinyBase's side of W12 (cli/bench/notes.md, "PostgreSQL"; tinystore's side is
// `tinystore bench W12`, cli/src/bench/postgres.rs): TinyBase 10.0.1's createPostgresPersister
// saving and loading 50k×10 cells in JSON mode and 5k×10 in tabular mode. (The auto-save
// of one cell into a large table, which tinystore's W12 also measures, has no TinyBase
// counterpart yet: TinyBase's auto-saves stalled in this harness, see cli/bench/notes.md.)
//
// Usage (from a folder whose node_modules has tinybase 10.0.1 and postgres 3.4.9, e.g.
// target/kit, where `make kit` installs both):
//   TINYSTORE_PG_URL=postgres://postgres@127.0.0.1:PORT node postgres-bench.mjs --child W12
// A database of its own is created and dropped. Prints one JSON line per measurement:
// {workload, impl, run, ops, seconds, ops_per_s, rss_bytes, …}, as bench.mjs does.

import postgres from 'postgres';
import {createStore} from 'tinybase';
import {createPostgresPersister} from 'tinybase/persisters/persister-postgres';

import {assert, emit, now} from './bench-common.mjs';

// WORKLOADS.md's fill: numbers for cells 0-3, strings for 4-7, booleans for 8-9.
const cellValue = (i, j) => (j < 4 ? i * 10 + j : j < 8 ? `s${i}_${j}` : (i + j) % 2 == 0);
const fill = (store, table, rows) =>
  store.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const row = {};
      for (let j = 0; j < 10; j++) {
        row['c' + j] = cellValue(i, j);
      }
      store.setRow(table, 'r' + i, row);
    }
  });
const checkLoaded = (store, table, rows) => {
  assert(store.getRowCount(table) == rows, `loaded ${store.getRowCount(table)} rows`);
  assert(store.getCell(table, 'r7', 'c5') == 's7_5', 'r7.c5');
  assert(store.getCell(table, 'r3', 'c1') == 31, 'r3.c1');
};

const server = (process.env.TINYSTORE_PG_URL ?? '').replace(/\/$/, '');
if (!server) {
  console.error('postgres-bench.mjs: set TINYSTORE_PG_URL=postgres://user@host:port');
  process.exit(2);
}
const name = `bench_tb_w12_${process.pid}`;
const admin = postgres(server + '/postgres', {onnotice: () => {}});
await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
await admin.unsafe(`CREATE DATABASE ${name}`);
const sql = postgres(`${server}/${name}`, {onnotice: () => {}, max: 16});
const errors = [];
const onIgnoredError = (e) => errors.push(String(e));

try {
  const TABULAR = {
    mode: 'tabular',
    tables: {load: {t: 't'}, save: {t: 't'}},
    values: {load: true, save: true},
  };
  for (const [mode, config, rows] of [
    ['json', 'tinybase', 50_000],
    ['tabular', TABULAR, 5_000],
  ]) {
    const store = createStore();
    fill(store, 't', rows);
    const persister = await createPostgresPersister(store, sql, config, undefined, onIgnoredError);
    let t = now();
    await persister.save();
    const save = (now() - t) / 1000;
    const loaded = createStore();
    const reader = await createPostgresPersister(loaded, sql, config, undefined, onIgnoredError);
    t = now();
    await reader.load();
    const load = (now() - t) / 1000;
    if (errors.length) {
      // TinyBase writes a table in one statement, one placeholder per value: PostgreSQL takes
      // at most 65,535 (10k rows of 10 cells would need 110,000, so W12 uses 5k).
      console.error(`W12 ${mode}: TinyBase's save failed: ${errors.join('; ')}`);
      errors.length = 0;
    } else {
      checkLoaded(loaded, 't', rows);
      emit(`W12_pg_save_${mode}`, rows * 10, save, {rows});
      emit(`W12_pg_load_${mode}`, rows * 10, load, {rows});
    }
    await persister.destroy();
    await reader.destroy();
  }
} finally {
  await sql.end();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
