#!/usr/bin/env node
// The TinyBase side of `tinystore apply`: the same flags, the same steps, done
// with the real `tinybase` package, so that both outputs can be compared byte
// for byte.
//
//   node tinybase_apply.mjs --ops OPS.json [--unique-id ID] [--fixed-now MS]
//                           [--merge FILE]... --out FILE
//
// 1. store = createMergeableStore(ID, () => MS)
// 2. apply the ops of OPS.json (same op format and semantics as
//    ../../../../shared/kit/peer.mjs, except that `sleep` is an error)
// 3. for each --merge FILE, in order: a fresh MergeableStore loaded from FILE
//    with TinyBase's file persister, then store.merge(thatStore)
// 4. createFilePersister(store, OUT).save()
//
// TinyBase is loaded from $TINYSTORE_NODE_MODULES (default
// <repo root>/target/kit/node_modules, filled by `make kit`). Importing file
// URLs instead of bare specifiers lets this script live outside the kit's
// folder without a package.json or NODE_PATH tricks (ESM ignores NODE_PATH).
//
// This file is also imported by apply_diff.mjs, which calls runApply()
// in-process instead of paying a Node start-up per case.

import {existsSync, readFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..', '..');

export const USAGE = `usage: node tinybase_apply.mjs --ops OPS.json [--unique-id ID] [--fixed-now MS]
                            [--merge FILE]... --out FILE`;

// An error meant for the user (bad flags or bad input), printed without a stack.
export class UsageError extends Error {}

export const nodeModulesDir = () =>
  resolve(
    process.env.TINYSTORE_NODE_MODULES || join(REPO_ROOT, 'target', 'kit', 'node_modules'),
  );

let tinybase;

// Loads the two TinyBase modules once. The paths are those of the package's
// `exports` map for `tinybase` and `tinybase/persisters/persister-file`.
export const loadTinyBase = async () => {
  if (tinybase) {
    return tinybase;
  }
  const dir = nodeModulesDir();
  const main = join(dir, 'tinybase', 'index.js');
  const filePersister = join(dir, 'tinybase', 'persisters', 'persister-file', 'index.js');
  for (const file of [main, filePersister]) {
    if (!existsSync(file)) {
      throw new UsageError(
        `TinyBase not found: ${file} is missing.\n` +
          `Install the reference kit with \`make kit\` (it puts tinybase 10.0.1 in ` +
          `<repo>/target/kit/node_modules), or point TINYSTORE_NODE_MODULES at a ` +
          `node_modules folder that has tinybase 10.0.1.`,
      );
    }
  }
  const pkg = JSON.parse(readFileSync(join(dir, 'tinybase', 'package.json'), 'utf8'));
  if (pkg.version != '10.0.1') {
    // Byte compatibility is pinned to one version; anything else would make a
    // mismatch ambiguous.
    throw new UsageError(`expected tinybase 10.0.1 in ${dir}, found ${pkg.version}`);
  }
  const {createMergeableStore} = await import(pathToFileURL(main).href);
  const {createFilePersister} = await import(pathToFileURL(filePersister).href);
  tinybase = {createMergeableStore, createFilePersister};
  return tinybase;
};

// ------------------------------------------------------------------ arguments

// Every flag takes the next argument verbatim, so an id such as "" or "-x" is
// passed through unchanged (node:util's parseArgs would refuse "-x").
export const parseApplyArgs = (argv) => {
  const args = {merges: []};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!['--ops', '--unique-id', '--fixed-now', '--merge', '--out'].includes(flag)) {
      throw new UsageError(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
    }
    if (i + 1 >= argv.length) {
      throw new UsageError(`${flag} needs a value\n${USAGE}`);
    }
    const value = argv[++i];
    switch (flag) {
      case '--ops':
        args.ops = value;
        break;
      case '--unique-id':
        args.uniqueId = value;
        break;
      case '--fixed-now': {
        const now = Number(value);
        if (value.trim() == '' || !Number.isFinite(now)) {
          throw new UsageError(`--fixed-now must be a number, got ${JSON.stringify(value)}`);
        }
        args.fixedNow = now;
        break;
      }
      case '--merge':
        args.merges.push(value);
        break;
      case '--out':
        args.out = value;
        break;
    }
  }
  if (args.ops === undefined || args.out === undefined) {
    throw new UsageError(`--ops and --out are required\n${USAGE}`);
  }
  return args;
};

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

const describe = (op) => JSON.stringify(op)?.slice(0, 200);

// Arguments are spread into the store method exactly as peer.mjs does, so
// e.g. ["addRow", t, row] is store.addRow(t, row) with TinyBase's default
// reuseRowIds = true.
const applyStoreOp = (store, op) => {
  if (!Array.isArray(op) || !STORE_METHODS.has(op[0])) {
    throw new UsageError(`bad op ${describe(op)}`);
  }
  const [name, ...args] = op;
  store[name](...args);
};

// Like peer.mjs: a transaction holds store ops only (no sleep, no nested
// transaction). `sleep` only makes sense on a live connection, so here it is
// an error, as it is for `tinystore apply`.
const applyOp = (store, op) => {
  if (Array.isArray(op) && op[0] == 'sleep') {
    throw new UsageError('the sleep op is not supported by apply');
  }
  if (Array.isArray(op) && op[0] == 'transaction') {
    const inner = op[1];
    if (!Array.isArray(inner)) {
      throw new UsageError(`bad transaction op ${describe(op)}`);
    }
    for (const innerOp of inner) {
      if (Array.isArray(innerOp) && ['sleep', 'transaction'].includes(innerOp[0])) {
        throw new UsageError('no sleep/transaction inside a transaction');
      }
    }
    store.transaction(() => inner.forEach((innerOp) => applyStoreOp(store, innerOp)));
    return;
  }
  applyStoreOp(store, op);
};

export const readOps = (file) => {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ops file ${file}: ${error.message}`);
  }
  let ops;
  try {
    ops = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`ops file ${file} is not valid JSON: ${error.message}`);
  }
  if (!Array.isArray(ops)) {
    throw new UsageError(`ops file ${file} must hold a JSON array of ops`);
  }
  return ops;
};

// ------------------------------------------------------------------ apply

// Runs the whole `apply` job. Resolves when OUT has been written; rejects (and
// writes nothing) on bad input or when TinyBase throws.
export const runApply = async ({ops, uniqueId, fixedNow, merges = [], out}) => {
  const {createMergeableStore, createFilePersister} = await loadTinyBase();
  const getNow = fixedNow === undefined ? undefined : () => fixedNow;
  const store = createMergeableStore(uniqueId, getNow);

  for (const op of readOps(ops)) {
    applyOp(store, op);
  }

  for (const file of merges) {
    if (!existsSync(file)) {
      throw new UsageError(`merge file ${file} does not exist`);
    }
    // The file persister reports unreadable or unparsable files through
    // onIgnoredError and otherwise carries on; for apply they are bad input.
    const errors = [];
    // The other store's id and clock cannot show in the output (it never makes
    // an HLC of its own); the frozen clock just keeps the run deterministic.
    const other = createMergeableStore(undefined, getNow);
    const persister = createFilePersister(other, file, (error) => errors.push(error));
    await persister.load();
    await persister.destroy();
    if (errors.length) {
      throw new UsageError(`cannot load merge file ${file}: ${errors[0]?.message ?? errors[0]}`);
    }
    store.merge(other);
  }

  // A failed save is also only reported through onIgnoredError.
  const saveErrors = [];
  const persister = createFilePersister(store, out, (error) => saveErrors.push(error));
  await persister.save();
  await persister.destroy();
  if (saveErrors.length) {
    throw new UsageError(`cannot write ${out}: ${saveErrors[0]?.message ?? saveErrors[0]}`);
  }
};

// ------------------------------------------------------------------ main

const isMain = process.argv[1] && resolve(process.argv[1]) == fileURLToPath(import.meta.url);
if (isMain) {
  try {
    await runApply(parseApplyArgs(process.argv.slice(2)));
  } catch (error) {
    process.stderr.write(
      `tinybase_apply: ${error instanceof UsageError ? error.message : error?.stack ?? error}\n`,
    );
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}
