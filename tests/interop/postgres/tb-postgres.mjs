#!/usr/bin/env node
// TinyBase 10.0.1's PostgresPersister as a command-line tool: the "other side" of tinystore's
// PostgreSQL interop tests. It uses TinyBase and the `postgres` driver only through their public
// APIs. `make kit` copies it into target/kit so that its ESM imports resolve from
// target/kit/node_modules (NODE_PATH does not apply to ESM): run `node target/kit/tb-postgres.mjs`.

import {appendFileSync, fstatSync, readFileSync} from 'node:fs';
import postgres from 'postgres';
import {createMergeableStore, createStore} from 'tinybase';
import {createPostgresPersister} from 'tinybase/persisters/persister-postgres';
import {createWsServer} from 'tinybase/synchronizers/synchronizer-ws-server';
import {WebSocketServer} from 'ws';

const USAGE = `usage: node tb-postgres.mjs <command> --url postgres://... [--table NAME | --config JSON]
                   [--sql-log FILE] [--driver-log FILE] [command options]

commands:
  save       --in FILE [--store plain|mergeable] [--unique-id ID] [--fixed-now MS]
      FILE is [tables, values], {content} or an object with mergeableContent (then a
      MergeableStore keeps its stamps). Creates the store and the persister, save(), exits.
  load       [--store auto|plain|mergeable]
      Prints {"content":[tables,values],"mergeableContent":...} on one line (mergeableContent
      only for a MergeableStore; auto = mergeable when the stored JSON document is stamped).
  auto-save  --ops FILE|- [--pre FILE] [--store auto|plain|mergeable]
      Sets --pre's content into the store (no save of its own), startAutoPersisting(), applies
      the ops, waits until the persister is idle, prints the final content like load.
  watch      --expect FILE [--timeout-ms 15000] [--store auto|plain|mergeable]
      startAutoLoad() (LISTEN/NOTIFY), prints READY, waits until the store's content equals
      FILE's, prints it and exits 0; exits 1 with the last content on stderr after the timeout.
  serve      --port P [--max-connections N] [--request-timeout-s S] [--fragment-size N]
             [--no-stdin-watch]
      TinyBase's createWsServer on 127.0.0.1:P (0 = a free port); each path's server store is
      persisted with createPostgresPersister(store, sql, 'tinybase_' + sanitized path). Prints
      'PORT <n>' then 'READY'; stops on SIGTERM/SIGINT or when a piped stdin closes.

common options:
  --table NAME     JSON mode on table NAME (TinyBase's string config); 'tinybase' by default
  --config JSON    any TinyBase persister config object, e.g. {"mode":"tabular",...}
  --sql-log FILE   append each SQL command TinyBase runs as {"sql":...,"params":[...]}
  --sql-log-marks  also append {"mark":...} lines at phase changes (auto-save: "ops")
  --driver-log FILE  append every query the postgres driver sends (incl. LISTEN) as
                   {"conn":id,"sql":...,"params":[...]}

ops (JSON array of store calls): ["setCell",t,r,c,v] ["setRow",t,r,{..}] ["addRow",t,{..}]
  ["setPartialRow",t,r,{..}] ["setTable",t,{..}] ["setTables",{..}] ["setValue",id,v]
  ["setValues",{..}] ["setPartialValues",{..}] ["setContent",[tables,values]]
  ["delCell",t,r,c] ["delRow",t,r] ["delTable",t] ["delTables"] ["delValue",id] ["delValues"]
  ["transaction",[op,...]] ["sleep",ms]

exit codes: 0 done, 1 failure, 2 bad arguments.
`;

class UsageError extends Error {}

// ------------------------------------------------------------------ arguments

const BOOLEAN_FLAGS = new Set(['sql-log-marks', 'no-stdin-watch', 'help']);

const parseArgs = (argv) => {
  const [command, ...rest] = argv;
  const flags = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith('--') || arg.length < 3) {
      throw new UsageError(`unexpected argument '${arg}'`);
    }
    const eq = arg.indexOf('=');
    if (eq != -1) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1);
    } else if (BOOLEAN_FLAGS.has(arg.slice(2))) {
      flags[arg.slice(2)] = true;
    } else if (i + 1 < rest.length) {
      flags[arg.slice(2)] = rest[++i];
    } else {
      throw new UsageError(`${arg} needs a value`);
    }
  }
  return [command, flags];
};

const numberFlag = (flags, name, dflt) => {
  if (flags[name] === undefined) {
    return dflt;
  }
  const n = Number(flags[name]);
  if (!Number.isFinite(n)) {
    throw new UsageError(`--${name} must be a number`);
  }
  return n;
};

const required = (flags, name, command) => {
  if (flags[name] === undefined) {
    throw new UsageError(`${command} needs --${name}`);
  }
  return flags[name];
};

const readJson = (file, what) => {
  let text;
  try {
    text = readFileSync(file == '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${file}: ${error.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} ${file} is not JSON: ${error.message}`);
  }
};

// The persister config: TinyBase's string config (a JSON-mode table name) or an object.
const persisterConfig = (flags) => {
  if (flags.table !== undefined && flags.config !== undefined) {
    throw new UsageError('give either --table or --config, not both');
  }
  if (flags.config === undefined) {
    return flags.table ?? 'tinybase';
  }
  let config;
  try {
    config = JSON.parse(flags.config);
  } catch (error) {
    throw new UsageError(`--config is not JSON: ${error.message}`);
  }
  if (config === null || typeof config != 'object' || Array.isArray(config)) {
    throw new UsageError('--config must be a JSON object');
  }
  return config;
};

// Where a JSON-mode config keeps its single document, for --store auto (TinyBase's defaults).
const jsonDocumentLocation = (config) =>
  typeof config == 'string'
    ? [config, '_id', 'store']
    : (config.mode ?? 'json') == 'json'
      ? [
          config.storeTableName ?? 'tinybase',
          config.storeIdColumnName ?? '_id',
          config.storeColumnName ?? 'store',
        ]
      : undefined;

// ------------------------------------------------------------------ content

// Accepts [tables, values], {content} or an object with mergeableContent.
const inputContent = (input, what) => {
  if (Array.isArray(input) && input.length == 2) {
    return {content: input};
  }
  if (input && typeof input == 'object' && (input.content || input.mergeableContent)) {
    return {content: input.content, mergeableContent: input.mergeableContent};
  }
  throw new UsageError(`${what} must be [tables, values], {content} or {mergeableContent}`);
};

const newStore = (kind, flags) => {
  if (kind == 'plain') {
    return createStore();
  }
  const fixedNow = numberFlag(flags, 'fixed-now', undefined);
  return createMergeableStore(
    flags['unique-id'],
    fixedNow === undefined ? undefined : () => fixedNow,
  );
};

const fillStore = (store, {content, mergeableContent}) => {
  if (store.isMergeable() && mergeableContent) {
    store.setMergeableContent(mergeableContent);
  } else {
    store.setContent(content ?? [{}, {}]);
  }
};

const storeOutput = (store) => ({
  content: store.getContent(),
  ...(store.isMergeable() ? {mergeableContent: store.getMergeableContent()} : {}),
});

// Key order does not matter for equality: objects are compared by their sorted entries.
const canonical = (value) =>
  Array.isArray(value)
    ? value.map(canonical)
    : value && typeof value == 'object'
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((key) => [key, canonical(value[key])]),
        )
      : value;

const sameContent = (a, b) =>
  JSON.stringify(canonical(JSON.parse(JSON.stringify(a)))) ==
  JSON.stringify(canonical(JSON.parse(JSON.stringify(b))));

// ------------------------------------------------------------------ ops

const STORE_METHODS = new Set([
  'setCell',
  'setRow',
  'addRow',
  'setPartialRow',
  'setTable',
  'setTables',
  'setValue',
  'setValues',
  'setPartialValues',
  'setContent',
  'delCell',
  'delRow',
  'delTable',
  'delTables',
  'delValue',
  'delValues',
]);

const callStore = (store, op) => {
  if (!Array.isArray(op) || !STORE_METHODS.has(op[0])) {
    throw new UsageError(`bad op ${JSON.stringify(op)}`);
  }
  store[op[0]](...op.slice(1));
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const applyOps = async (store, ops) => {
  if (!Array.isArray(ops)) {
    throw new UsageError('ops must be a JSON array');
  }
  for (const op of ops) {
    if (Array.isArray(op) && op[0] == 'sleep') {
      await sleep(Number(op[1]));
    } else if (Array.isArray(op) && op[0] == 'transaction') {
      if (!Array.isArray(op[1])) {
        throw new UsageError(`bad op ${JSON.stringify(op)}`);
      }
      store.transaction(() => op[1].forEach((inner) => callStore(store, inner)));
    } else {
      callStore(store, op);
    }
  }
};

// ------------------------------------------------------------------ connection

const jsonLine = (value) =>
  JSON.stringify(value, (_key, v) => (typeof v == 'bigint' ? `${v}` : v)) + '\n';

// One postgres.js client per process; every command ends it so that the process can exit.
const connect = (flags, max = 10) => {
  const url = required(flags, 'url', 'this command');
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new UsageError(`--url must be a postgres:// URL, not ${url}`);
  }
  const driverLog = flags['driver-log'];
  return postgres(url, {
    max,
    // The default handler prints server notices (e.g. "relation already exists, skipping") to
    // stdout, which carries this tool's output.
    onnotice: () => {},
    ...(driverLog
      ? {
          debug: (conn, sql, params) =>
            appendFileSync(driverLog, jsonLine({conn, sql, params: params ?? []})),
        }
      : {}),
  });
};

const sqlLogger = (flags) =>
  flags['sql-log']
    ? (sql, params) => appendFileSync(flags['sql-log'], jsonLine({sql, params: params ?? []}))
    : undefined;

const mark = (flags, name) => {
  if (flags['sql-log'] && flags['sql-log-marks']) {
    appendFileSync(flags['sql-log'], jsonLine({mark: name}));
  }
};

// --store auto: a MergeableStore when the stored JSON document is stamped ([thing, hlc, hash]).
const detectStoreKind = async (sql, config) => {
  const location = jsonDocumentLocation(config);
  if (!location) {
    return 'plain';
  }
  const [table, idColumn, column] = location;
  const quote = (id) => '"' + id.replace(/"/g, '""') + '"';
  try {
    const rows = await sql.unsafe(
      `SELECT ${quote(column)} AS doc FROM ${quote(table)} WHERE ${quote(idColumn)}=$1`,
      ['_'],
    );
    const parsed = rows.length ? JSON.parse(rows[0].doc) : undefined;
    return Array.isArray(parsed?.[0]) && parsed[0].length == 3 ? 'mergeable' : 'plain';
  } catch {
    // No such table (or not JSON yet): nothing stamped to honour.
    return 'plain';
  }
};

const storeKind = async (flags, sql, config, dflt) => {
  const kind = flags.store ?? dflt;
  if (!['auto', 'plain', 'mergeable'].includes(kind)) {
    throw new UsageError('--store must be auto, plain or mergeable');
  }
  return kind == 'auto' ? await detectStoreKind(sql, config) : kind;
};

const newPersister = async (store, sql, config, flags, errors) =>
  await createPostgresPersister(store, sql, config, sqlLogger(flags), (error) =>
    errors.push(error),
  );

const message = (error) => error?.message ?? `${error}`;

// TinyBase reports loading a JSON-mode table that holds no document (missing, empty) as the
// ignored error 'tinybase:1:null' and leaves the store empty: for a load that is "nothing stored",
// not a failure.
const isNothingStored = (error) => message(error) == 'tinybase:1:null';

// TinyBase's persisters swallow database errors into onIgnoredError; the tool must not.
const failOnIgnoredErrors = (errors, allowNothingStored) => {
  const real = errors.filter((error) => !(allowNothingStored && isNothingStored(error)));
  if (real.length) {
    throw new Error(`TinyBase reported ${real.length} error(s): ${real.map(message).join('; ')}`);
  }
};

// ------------------------------------------------------------------ commands

const save = async (flags, sql) => {
  const config = persisterConfig(flags);
  const input = inputContent(readJson(required(flags, 'in', 'save'), '--in'), '--in');
  const kind = flags.store ?? (input.mergeableContent ? 'mergeable' : 'plain');
  if (!['plain', 'mergeable'].includes(kind)) {
    throw new UsageError('save: --store must be plain or mergeable');
  }
  const store = newStore(kind, flags);
  fillStore(store, input);
  const errors = [];
  const persister = await newPersister(store, sql, config, flags, errors);
  await persister.save();
  await persister.destroy();
  failOnIgnoredErrors(errors, false);
};

const load = async (flags, sql) => {
  const config = persisterConfig(flags);
  const store = newStore(await storeKind(flags, sql, config, 'auto'), flags);
  const errors = [];
  const persister = await newPersister(store, sql, config, flags, errors);
  await persister.load();
  await persister.destroy();
  failOnIgnoredErrors(errors, true);
  process.stdout.write(jsonLine(storeOutput(store)));
};

// Resolves once every save or load queued so far has run and the persister is idle.
const whenIdle = async (persister) => {
  for (;;) {
    await persister.schedule(async () => {});
    if (persister.getStatus() == 0) {
      return;
    }
    await sleep(10);
  }
};

const autoSave = async (flags, sql) => {
  const config = persisterConfig(flags);
  const ops = readJson(required(flags, 'ops', 'auto-save'), '--ops');
  const pre =
    flags.pre === undefined ? undefined : inputContent(readJson(flags.pre, '--pre'), '--pre');
  const store = newStore(await storeKind(flags, sql, config, 'auto'), flags);
  if (pre) {
    fillStore(store, pre);
  }
  const errors = [];
  const persister = await newPersister(store, sql, config, flags, errors);
  await persister.startAutoPersisting();
  await whenIdle(persister);
  mark(flags, 'ops');
  await applyOps(store, ops);
  await whenIdle(persister);
  await persister.destroy();
  failOnIgnoredErrors(errors, true);
  process.stdout.write(jsonLine(storeOutput(store)));
};

const watch = async (flags, sql) => {
  const config = persisterConfig(flags);
  const expected = inputContent(
    readJson(required(flags, 'expect', 'watch'), '--expect'),
    '--expect',
  );
  const want = expected.content ?? [{}, {}];
  const timeoutMs = numberFlag(flags, 'timeout-ms', 15000);
  const store = newStore(await storeKind(flags, sql, config, 'auto'), flags);
  const errors = [];
  const persister = await newPersister(store, sql, config, flags, errors);
  await persister.startAutoLoad();
  // A listener that could not be set up (e.g. TinyBase's event trigger for this config already
  // exists because another process auto-loads it) is only an ignored error: fail now, not after
  // the timeout.
  try {
    failOnIgnoredErrors(errors, true);
  } catch (error) {
    await persister.destroy();
    throw error;
  }
  process.stdout.write('READY\n');
  let timer;
  const reached = await new Promise((resolve) => {
    const check = () => {
      if (sameContent(store.getContent(), want)) {
        resolve(true);
      }
    };
    store.addDidFinishTransactionListener(check);
    timer = setTimeout(() => resolve(false), timeoutMs);
    check();
  });
  clearTimeout(timer);
  await persister.destroy();
  if (!reached) {
    process.stderr.write(
      `tb-postgres: content did not reach --expect within ${timeoutMs} ms\n` +
        ` last: ${JSON.stringify(store.getContent())}\n want: ${JSON.stringify(want)}\n` +
        (errors.length ? ` ignored errors: ${errors.map(message).join('; ')}\n` : ''),
    );
    return 1;
  }
  process.stdout.write(jsonLine({content: store.getContent()}));
  return 0;
};

// The kit's room-to-table rule (peer.mjs serve --db): anything but letters, digits and _ is _.
const tableForPath = (pathId) => 'tinybase_' + (pathId.replace(/[^A-Za-z0-9_]/g, '_') || '_');

const serve = async (flags, sql) => {
  const port = numberFlag(flags, 'port', undefined);
  if (port === undefined) {
    throw new UsageError('serve needs --port (0 for a free one)');
  }
  const persisters = [];
  const onIgnoredError = (error) => process.stderr.write(`ignored error: ${message(error)}\n`);
  const wss = new WebSocketServer({host: '127.0.0.1', port});
  // createWsServer starts each persister itself (startAutoLoad, then startAutoSave).
  const server = createWsServer(
    wss,
    async (pathId) => {
      const persister = await createPostgresPersister(
        createMergeableStore(),
        sql,
        tableForPath(pathId),
        sqlLogger(flags),
        onIgnoredError,
      );
      persisters.push(persister);
      return persister;
    },
    onIgnoredError,
    numberFlag(flags, 'request-timeout-s', undefined),
    numberFlag(flags, 'fragment-size', undefined),
  );
  try {
    await new Promise((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
  } catch (error) {
    throw new Error(`cannot listen on 127.0.0.1:${port}: ${error.message}`);
  }
  let stopping = false;
  const stop = async (why) => {
    if (stopping) {
      return;
    }
    stopping = true;
    setTimeout(() => {
      process.stderr.write(
        `tb-postgres: forced exit ${why ? `(${why}) ` : ''}after shutdown timeout\n`,
      );
      process.exit(1);
    }, 5000).unref();
    try {
      // TinyBase's destroy() drops saves still queued, so let the live ones finish first. A
      // persister that is no longer auto-saving was destroyed with its room: its queue is gone.
      for (const persister of persisters) {
        if (persister.isAutoSaving()) {
          await whenIdle(persister).catch(() => {});
        }
      }
      await server.destroy();
    } catch (error) {
      process.stderr.write(`shutdown: ${error?.stack ?? error}\n`);
    }
    await sql.end({timeout: 2}).catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (!flags['no-stdin-watch']) {
    // Only a pipe or socket counts: a background job's /dev/null stdin must not stop the server.
    const stat = fstatSync(0);
    if (stat.isFIFO() || stat.isSocket()) {
      process.stdin.on('data', () => {});
      process.stdin.on('end', () => stop('stdin closed'));
      process.stdin.on('error', () => stop('stdin error'));
    }
  }
  process.stdout.write(`PORT ${wss.address().port}\nREADY\n`);
  // Never resolves: the server runs until stop() exits the process.
  return new Promise(() => {});
};

// ------------------------------------------------------------------ main

const COMMANDS = {save, load, 'auto-save': autoSave, watch, serve};

const main = async () => {
  let command;
  let flags;
  try {
    [command, flags] = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`tb-postgres: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (command === undefined || command == 'help' || flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`tb-postgres: unknown command ${command}\n${USAGE}`);
    return 2;
  }
  let sql;
  try {
    // Every server-side room store reserves a connection of its own (TinyBase's persister
    // calls sql.reserve()), so a server needs one per open room.
    sql = connect(flags, command == 'serve' ? numberFlag(flags, 'max-connections', 64) : 10);
    return (await run(flags, sql)) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tb-postgres: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`tb-postgres: ${error?.stack ?? error}\n`);
    return 1;
  } finally {
    await sql?.end({timeout: 2}).catch(() => {});
  }
};

process.exitCode = await main();
// Everything has been ended; should a handle still linger, it must not keep a finished command
// (and the test waiting for it) alive.
setTimeout(() => process.exit(), 1000).unref();
