// TinyBase's side of W13, app start-up (cli/bench/notes.md, "App start-up"; tinystore's side
// is `tinystore bench W13`, cli/src/bench/startup.rs): TinyBase 10.0.1 opening an existing
// file of 100k×10 cells and answering the first getCell, through createBetterSqlite3Persister
// (JSON mode, tabular, a MergeableStore in JSON mode) and createFilePersister.
//
// Each file is written first (not timed) by this process, so that it sits in the page cache
// as on a warm launch; the timed part opens the database (a new connection), creates the
// store and its persister, loads, and reads r7.c5. TinyBase writes the JSON-mode files and the
// JSON file itself; its tabular save cannot write 100k rows (one statement, one placeholder
// per value, above SQLite's 32,766), so the tabular file is written by SQL in TinyBase's
// layout (`_id` PRIMARY KEY, one column per cell, booleans as 1/0).
//
// Usage (from a folder whose node_modules has tinybase 10.0.1 and better-sqlite3, e.g.
// target/kit): node startup-bench.mjs --child W13 [--rows N]
// Prints one JSON line per shape, as bench.mjs does.

import {mkdtempSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import Database from 'better-sqlite3';
import {createMergeableStore, createStore} from 'tinybase';
import {createBetterSqlite3Persister} from 'tinybase/persisters/persister-better-sqlite3';
import {createFilePersister} from 'tinybase/persisters/persister-file';

import {assert, emit, now} from './bench-common.mjs';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? +process.argv[rowsArg + 1] : 100_000;

// WORKLOADS.md's fill: numbers for cells 0-3, strings for 4-7, booleans for 8-9.
const cellValue = (i, j) => (j < 4 ? i * 10 + j : j < 8 ? `s${i}_${j}` : (i + j) % 2 == 0);
const fill = (store, rows) =>
  store.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const row = {};
      for (let j = 0; j < 10; j++) {
        row['c' + j] = cellValue(i, j);
      }
      store.setRow('t', 'r' + i, row);
    }
  });
const checkLoaded = (store, rows) => {
  assert(store.getRowCount('t') == rows, `loaded ${store.getRowCount('t')} rows`);
  assert(store.getCell('t', 'r3', 'c1') == 31, 'r3.c1');
};

const TABULAR = {mode: 'tabular', tables: {load: {t: 't'}}, values: {load: false}};
const errors = [];
const onIgnoredError = (e) => errors.push(String(e));
const dir = mkdtempSync(join(tmpdir(), 'tinybase-bench-w13-'));
const sqlite = join(dir, 'w13.sqlite');
const fresh = () => {
  for (const suffix of ['', '-wal', '-shm']) {
    rmSync(sqlite + suffix, {force: true});
  }
};
// WORKLOADS.md's settings, as tinystore's side writes its files.
const openForWrite = () => {
  const db = new Database(sqlite);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
};

// The launch: a new connection, a new store and persister, load, the first getCell.
const launch = async (makeStore, open, config) => {
  const t = now();
  const db = open ? new Database(sqlite) : undefined;
  const store = makeStore();
  const persister = open
    ? createBetterSqlite3Persister(store, db, config, undefined, onIgnoredError)
    : createFilePersister(store, join(dir, 'w13.json'), onIgnoredError);
  await persister.load();
  const first = store.getCell('t', 'r7', 'c5');
  const seconds = (now() - t) / 1000;
  assert(first == 's7_5', `the first getCell: ${first}`);
  checkLoaded(store, ROWS);
  await persister.destroy();
  db?.close();
  return seconds;
};

const saveWith = async (store, config) => {
  const db = openForWrite();
  const persister = createBetterSqlite3Persister(store, db, config, undefined, onIgnoredError);
  await persister.save();
  await persister.destroy();
  db.close();
};

try {
  const cells = ROWS * 10;
  const line = (shape, seconds, file) =>
    emit(`W13_startup_${shape}`, cells, seconds, {rows: ROWS, file_bytes: statSync(file).size});

  fresh();
  let store = createStore();
  fill(store, ROWS);
  await saveWith(store, 'tinybase');
  store = undefined;
  line('sqlite_json', await launch(createStore, true, 'tinybase'), sqlite);

  fresh();
  const db = openForWrite();
  const columns = [...Array(10).keys()].map((j) => `"c${j}"`);
  db.exec(`CREATE TABLE "t"("_id" PRIMARY KEY,${columns.join(',')})`);
  const insert = db.prepare(`INSERT INTO "t" VALUES(${Array(11).fill('?').join(',')})`);
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      const row = ['r' + i];
      for (let j = 0; j < 10; j++) {
        const v = cellValue(i, j);
        row.push(typeof v == 'boolean' ? +v : v);
      }
      insert.run(row);
    }
  })();
  db.close();
  line('sqlite_tabular', await launch(createStore, true, TABULAR), sqlite);

  fresh();
  store = createMergeableStore();
  fill(store, ROWS);
  await saveWith(store, 'tinybase');
  store = undefined;
  line('mergeable_json', await launch(createMergeableStore, true, 'tinybase'), sqlite);
  fresh();

  store = createStore();
  fill(store, ROWS);
  const writer = createFilePersister(store, join(dir, 'w13.json'), onIgnoredError);
  await writer.save();
  await writer.destroy();
  store = undefined;
  line('file_json', await launch(createStore, false), join(dir, 'w13.json'));
  assert(errors.length == 0, `ignored errors: ${errors.join('; ')}`);
} finally {
  rmSync(dir, {recursive: true, force: true});
}
