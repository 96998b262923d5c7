// TinyBase's side of W12 (cli/bench/notes.md, "PostgreSQL"; tinystore's side is
// `tinystore bench W12`, cli/src/bench/postgres.rs): TinyBase 10.0.1's createPostgresPersister
// saving and loading 50k×10 cells in JSON mode and 5k×10 in tabular mode, and auto-saving
// one changed cell into a 100k-row tabular table (the table written by SQL: TinyBase's own
// full save of it exceeds PostgreSQL's 65,535 placeholders).
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

  // Auto-save: each write awaited until its save is done (the persister's schedule runs the
  // queued save before the empty action), as tinystore's auto-save returns once saved.
  const rows = 100_000;
  const writes = 200;
  const cellSql = (j) =>
    j < 4
      ? `(i*10+${j})::text`
      : j < 8
        ? `'"s'||i||'_${j}"'`
        : `CASE WHEN (i+${j})%2=0 THEN 'true' ELSE 'false' END`;
  const columns = [...Array(10).keys()];
  await sql.unsafe(
    `CREATE TABLE big("_id" text PRIMARY KEY,${columns.map((j) => `"c${j}" text`).join(',')})`,
  );
  await sql.unsafe(
    `INSERT INTO big SELECT 'r'||i,${columns.map(cellSql).join(',')} FROM generate_series(0,${rows - 1}) i`,
  );
  const big = createStore();
  const BIG = {
    mode: 'tabular',
    tables: {load: {big: 'big'}, save: {big: 'big'}},
    values: {load: false, save: false},
  };
  const persister = await createPostgresPersister(big, sql, BIG, undefined, onIgnoredError);
  await persister.load();
  checkLoaded(big, 'big', rows);
  await persister.startAutoSave();
  errors.length = 0; // the first full save: more than 65,535 placeholders
  const t = now();
  for (let i = 0; i < writes; i++) {
    big.setCell('big', 'r' + ((i * 7919) % rows), 'c0', -i);
    await persister.schedule(async () => {});
  }
  const autosave = (now() - t) / 1000;
  assert(errors.length == 0, `auto-save failed: ${errors.join('; ')}`);
  const last = `r${((writes - 1) * 7919) % rows}`;
  const [stored] = await sql.unsafe(`SELECT c0 FROM big WHERE _id=$1`, [last]);
  assert(stored?.c0 == String(-(writes - 1)), `the last auto-save: ${JSON.stringify(stored)}`);
  emit('W12_pg_autosave_cell@100k', writes, autosave, {rows, writes});
  await persister.destroy();
} finally {
  await sql.end();
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
