#!/usr/bin/env node
// Differential test of `tinystore apply` against TinyBase 10.0.1.
//
//   node apply_diff.mjs --tinystore BIN [--cases N=300] [--seed S] [--only K]
//                       [--keep DIR] [--timeout-ms MS=60000]
//
// Each case is a random op script (plus, half of the time, one or two
// MergeableStore files made by TinyBase from other random scripts). The same
// `apply` job runs through TinyBase (tinybase_apply.mjs, in-process) and
// through `BIN apply ...`; the two output files must be byte-identical.
// A few "expected error" cases check that bad input makes BIN fail without
// writing an output. Exit status: 0 all good, 1 some case failed, 2 usage.
//
// Everything random comes from one seed (printed at start), and every case has
// its own generator derived from (seed, case number), so `--seed S --only K`
// replays one case exactly.

import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {UsageError, loadTinyBase, nodeModulesDir, runApply} from './tinybase_apply.mjs';

const USAGE = `usage: node apply_diff.mjs --tinystore BIN [--cases N=300] [--seed S] [--only K]
                           [--keep DIR] [--timeout-ms MS=60000]`;

// ------------------------------------------------------------------ randomness

// FNV-1a over UTF-16 code units: only used to turn "seed/case" into a 32-bit
// PRNG seed, so it need not match anything else.
const hash32 = (text) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  }
  return h;
};

// mulberry32: tiny, fast and good enough for test-case generation.
const mulberry32 = (seed) => () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

// Helpers bound to one generator, so that a case's draws never depend on
// another case's.
const randomHelpers = (rng) => {
  const int = (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));
  const chance = (p) => rng() < p;
  const pick = (list) => list[Math.floor(rng() * list.length)];
  const weighted = (table) => {
    let total = 0;
    for (const [, weight] of table) {
      total += weight;
    }
    let r = rng() * total;
    for (const [item, weight] of table) {
      if ((r -= weight) < 0) {
        return item;
      }
    }
    return table[table.length - 1][0];
  };
  // k distinct items, in random order.
  const sample = (list, k) => {
    const copy = [...list];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, k);
  };
  return {rng, int, chance, pick, weighted, sample};
};

// ------------------------------------------------------------------ JSON text

// A JSON object kept as ordered entries. Generated objects are never real JS
// objects: assigning "__proto__" on one would change its prototype instead of
// adding a key. Both sides only ever see the JSON text.
class Obj {
  constructor(entries = []) {
    this.entries = entries;
  }
}

// A number written with an exact decimal spelling chosen here (e.g. a
// rounding edge case); what it means is whatever JSON.parse makes of it.
class RawNumber {
  constructor(text) {
    this.text = text;
  }
}

const hex4 = (code, upper) => {
  const h = code.toString(16).padStart(4, '0');
  return upper ? h.toUpperCase() : h;
};

const SHORT_ESCAPES = {'\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t'};

// Writes generated values as JSON text in a randomly chosen but always valid
// spelling (escapes, number forms, whitespace), so that tinystore's JSON
// reader is exercised on more than the one form JSON.stringify produces.
const createJsonWriter = (random) => {
  const {rng, chance, pick} = random;
  const escapeRate = pick([0, 0, 0.05, 0.3]);
  const upperHex = chance(0.3);
  const wsStyle = pick(['none', 'none', 'space', 'mixed']);
  const ws = () =>
    wsStyle == 'none'
      ? ''
      : wsStyle == 'space'
        ? ' '
        : pick(['', '', ' ', '\n', '\t', '\r\n', '  \n ']);

  const string = (s) => {
    let out = '"';
    for (const ch of s) {
      const code = ch.codePointAt(0);
      if (ch == '"') {
        out += '\\"';
      } else if (ch == '\\') {
        out += '\\\\';
      } else if (code < 0x20) {
        out += SHORT_ESCAPES[ch] && chance(0.7) ? SHORT_ESCAPES[ch] : '\\u' + hex4(code, upperHex);
      } else if (ch == '/' && chance(escapeRate)) {
        out += '\\/';
      } else if (rng() < escapeRate) {
        // Astral characters become an escaped surrogate pair, as JSON requires.
        for (let i = 0; i < ch.length; i++) {
          out += '\\u' + hex4(ch.charCodeAt(i), upperHex);
        }
      } else {
        out += ch;
      }
    }
    return out + '"';
  };

  const number = (n) => {
    if (Object.is(n, -0)) {
      return pick(['-0', '-0', '-0.0', '-0e0', '-0E+3']);
    }
    const plain = String(n);
    if (chance(0.7)) {
      return plain;
    }
    const forms = [
      n.toPrecision(17), // always round-trips, often with 17 noisy digits
      n.toExponential(),
      n.toExponential().replace('e', 'E').replace('+', ''),
    ];
    if (Number.isInteger(n)) {
      // Exact integer digits of the double, e.g. 1.7976931348623157e308 as
      // 309 digits, or 123456789012345680000 as ...683968.
      forms.push(BigInt(n).toString());
      if (!plain.includes('e')) {
        forms.push(plain + '.0', plain + 'e0');
      }
    }
    return pick(forms);
  };

  const value = (v) => {
    if (v === null) {
      return 'null';
    }
    if (typeof v == 'boolean') {
      return String(v);
    }
    if (typeof v == 'number') {
      return number(v);
    }
    if (typeof v == 'string') {
      return string(v);
    }
    if (v instanceof RawNumber) {
      return v.text;
    }
    if (Array.isArray(v)) {
      return '[' + ws() + v.map((item) => value(item)).join(ws() + ',' + ws()) + ws() + ']';
    }
    if (v instanceof Obj) {
      return (
        '{' +
        ws() +
        v.entries
          .map(([key, item]) => string(key) + ws() + ':' + ws() + value(item))
          .join(ws() + ',' + ws()) +
        ws() +
        '}'
      );
    }
    throw new Error(`cannot write ${typeof v}`);
  };

  return (v) => ws() + value(v) + ws() + (chance(0.5) ? '\n' : '');
};

// ------------------------------------------------------------------ pools

// Small pools so that later ops hit what earlier ops wrote. Integer-like ids
// ("0", "2", "10", "4294967294") sort first in JS objects, so in TinyBase's
// output; "4294967295" and "01" are not array indexes and keep insertion
// order. "__proto__" and "constructor" catch object-as-map bugs.
const TABLE_IDS = ['t', 'pets', '0', '2', '10', '', '__proto__', 'é', '🐶', '4294967295', 'constructor'];
const ROW_IDS = [
  'r', 'fido', '0', '1', '2', '3', '10', '01', '-1', '', '__proto__', 'é', '🐶',
  '4294967294', '4294967295', '1e3',
];
const CELL_IDS = [
  'c', 'd', 'species', '0', '2', '10', '', '__proto__', 'é', '🐶', '1.5', 'toString', 'a\u2028b',
];
const VALUE_IDS = [
  'v', 'w', 'open', '0', '2', '10', '', '__proto__', 'é', '🐶', '9007199254740993', 'hasOwnProperty',
];
const KEYS_IN_OBJECTS = ['a', 'b', '0', '1', '2', '10', '__proto__', '', 'é', '🐶', 'x y', '-1', '01'];

// Ids of the stores: never omitted (TinyBase would pick a random client id).
const UNIQUE_IDS = ['client1', 'a', 'b', '', 'é', '🐶', 'fixture-client', 'A B', 'x'.repeat(40)];

const STRINGS = [
  '', 'a', 'dog', 'cat', 'é', 'e\u0301', '🐶', '日本語', '\n', '"', '\\', '/', '\u0001', '\u001f',
  '\u007f', '\u0080', '\u2028', '\u2029', '\t\r\b\f', '</script>', '\uFEFF', '\uFFFF', 'a\u0000b',
  'x\uFFFD', '\uFFFCx', 'null', '0', '-0', 'true', '"quoted"', '\u{10FFFF}', 'a'.repeat(300),
];
// TinyBase rejects these as user data (store.md §1.1): the cell is dropped.
const RESERVED_STRINGS = ['\uFFFC', '\uFFFD', '\uFFFD{}', '\uFFFD[1]', '\uFFFDnot json'];
// Characters for made-up strings; no lone surrogates (Rust strings cannot hold
// them, a documented limitation).
const CHARS = [
  'a', 'b', 'Z', '0', ' ', '"', '\\', '/', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u0007', '\u001b',
  '\u007f', 'é', 'ß', '€', '\u2028', '\u2029', '\uD7FF', '\uE000', '\uFFFD', '\uFFFE', '🐶', '😀',
  '\u{10FFFF}', '\u{1D11E}',
];
const NUMBERS = [
  -0, 0, 1, -1, 2, 42, 1e21, 1e-7, 1.5e-7, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308,
  0.1, 0.2, 0.30000000000000004, 123456789012345680000, -1.5, 2 ** 53, 2 ** 53 + 2, 1e20, 1e-6,
  123e-20, 100, 4294967295, 2.5e-8, 1e300, 1.5e-323, 2.2250738585072014e-308, 999999999999999900000,
];
// Decimal spellings that only a correctly rounding parser reads right.
const RAW_NUMBERS = [
  '9007199254740993', // halfway: rounds to even, 9007199254740992
  '1.00000000000000011102230246251565404236316680908203125', // halfway: 1
  '1.00000000000000011102230246251565404236316680908203126', // just above: 1.0000000000000002
  '2.2250738585072011e-308',
  '0.1000000000000000055511151231257827021181583404541015625',
  '7.0e-10',
  '123456789012345678901234567890',
  '4.9406564584124654e-324',
  '1E+2',
  '0e10',
  '-0.000',
];

// ------------------------------------------------------------------ scripts

const createScriptGenerator = (random, {allowObjects}) => {
  const {rng, int, chance, pick, weighted, sample} = random;

  // Each script draws from a few ids of each pool so that overwrites and
  // deletes mostly hit existing things. Some scripts crowd one table with
  // the ids addRow hands out, to stress its id counter and reuse pool.
  const crowded = chance(0.25);
  const tableIds = sample(TABLE_IDS, crowded ? 1 : int(1, 4));
  const rowIds = crowded ? sample(['0', '1', '2', '3', 'x', '01'], int(3, 6)) : sample(ROW_IDS, int(2, 6));
  const cellIds = sample(CELL_IDS, crowded ? int(1, 2) : int(2, 5));
  const valueIds = sample(VALUE_IDS, int(2, 5));

  const madeUpString = () => {
    let s = '';
    for (let n = int(0, 8); n > 0; n--) {
      s += pick(CHARS);
    }
    return s;
  };

  const number = () =>
    weighted([
      [() => pick(NUMBERS), 5],
      [() => int(-1000, 1000), 3],
      [() => (chance(0.5) ? -1 : 1) * rng() * 10 ** int(-12, 25), 3],
      [() => new RawNumber(pick(RAW_NUMBERS)), 1],
    ])();

  const scalar = () =>
    weighted([
      [() => pick(STRINGS), 4],
      [madeUpString, 3],
      [number, 6],
      [() => chance(0.5), 2],
      [() => null, 1],
      [() => pick(RESERVED_STRINGS), 0.3],
    ])();

  // Inside objects/arrays anything JSON goes, reserved strings included: only
  // a cell's top level is validated.
  const nested = (depth) => {
    if (depth >= 3 || chance(0.5)) {
      return chance(0.1) ? pick(RESERVED_STRINGS) : scalar();
    }
    if (chance(0.5)) {
      return Array.from({length: int(0, 4)}, () => nested(depth + 1));
    }
    return new Obj(sample(KEYS_IN_OBJECTS, int(0, 4)).map((key) => [key, nested(depth + 1)]));
  };

  const cell = () => {
    if (allowObjects && chance(0.15)) {
      return chance(0.5)
        ? Array.from({length: int(0, 4)}, () => nested(1))
        : new Obj(sample(KEYS_IN_OBJECTS, int(0, 4)).map((key) => [key, nested(1)]));
    }
    return scalar();
  };

  // A container of 0..max distinct ids; empty ones (no-ops or "delete all",
  // depending on the call) come up now and then.
  const container = (ids, max, child) =>
    new Obj(sample(ids, chance(0.06) ? 0 : int(1, max)).map((id) => [id, child()]));
  const row = () => container(cellIds, 4, cell);
  const table = () => container(rowIds, 3, row);
  const tables = () => container(tableIds, 3, table);
  const values = () => container(valueIds, 4, cell);

  const t = () => pick(tableIds);
  const r = () => pick(rowIds);
  const c = () => pick(cellIds);
  const v = () => pick(valueIds);

  const storeOp = () =>
    weighted([
      [() => ['setCell', t(), r(), c(), cell()], 20],
      [() => ['setRow', t(), r(), row()], 8],
      [() => ['setPartialRow', t(), r(), row()], 8],
      [() => ['addRow', t(), row()], crowded ? 20 : 9],
      [() => ['setTable', t(), table()], 4],
      [() => ['setTables', tables()], 2],
      [() => ['setValue', v(), cell()], 12],
      [() => ['setValues', values()], 3],
      [() => ['setPartialValues', values()], 5],
      [() => ['setContent', [tables(), values()]], 2],
      [() => ['delCell', t(), r(), c()], crowded ? 16 : 8],
      [() => ['delRow', t(), r()], 7],
      [() => ['delTable', t()], 2],
      [() => ['delTables'], 0.7],
      [() => ['delValue', v()], 5],
      [() => ['delValues'], 0.7],
    ])();

  // Transactions hold store ops only, as in the kit's peer.mjs.
  const op = () =>
    chance(0.12) ? ['transaction', Array.from({length: int(0, 6)}, storeOp)] : storeOp();

  return (minOps, maxOps) => Array.from({length: int(minOps, maxOps)}, op);
};

// ------------------------------------------------------------------ one case

const FIXED_NOW = 1700000000000;

const applyArgs = ({ops, uniqueId, fixedNow, merges, out}) => [
  ['--ops', ops],
  ['--unique-id', uniqueId],
  ['--fixed-now', String(fixedNow)],
  ...merges.map((file) => ['--merge', file]),
  ['--out', out],
];

const quoteArg = (arg) => (/^[\w./:=@+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`);

// Writes a script and lets TinyBase run it; if TinyBase throws, draws a new
// script (the test is about matching TinyBase, not about TinyBase's errors).
const generateUntilTinyBaseAccepts = async (random, {allowObjects, minOps, maxOps, job, stats}) => {
  const write = createJsonWriter(random);
  const generate = createScriptGenerator(random, {allowObjects});
  for (let attempt = 1; ; attempt++) {
    writeFileSync(job.ops, write(generate(minOps, maxOps)));
    try {
      await runApply(job);
      return;
    } catch (error) {
      if (error instanceof UsageError || attempt == 50) {
        // A script the generator should never make; a harness bug.
        throw error;
      }
      stats.regenerated++;
      stats.firstThrow ??= `${error?.message ?? error}`;
    }
  }
};

const runCase = async (seed, caseNo, dir, options, stats) => {
  const random = randomHelpers(mulberry32(hash32(`${seed}/${caseNo}`)));
  const {int, chance, pick, sample} = random;
  mkdirSync(dir, {recursive: true});

  const mergeCount = chance(0.5) ? int(1, 2) : 0;
  const [uniqueId, ...mergeIds] = sample(UNIQUE_IDS, 1 + mergeCount);
  // Mostly near FIXED_NOW; now and then the clock's extremes (a frozen clock
  // at 0 makes TinyBase's first counter 1, not 0), but only without merges,
  // whose stores must stay within 5 minutes of this one.
  const fixedNow =
    mergeCount == 0 && chance(0.04)
      ? pick([0, 1, 2 ** 42 - 1])
      : FIXED_NOW + (chance(0.8) ? int(-1000000, 1000000) : int(-1e11, 1e11));

  // Merged-in stores are made by TinyBase itself, without object/array cells:
  // TinyBase's merge() hashes those in decoded form (spec mergeable.md §8).
  // Now and then a merged-in store shares this store's client id and clock,
  // so equal HLCs meet (the local stamp must win).
  const merges = [];
  for (let m = 0; m < mergeCount; m++) {
    const twin = chance(0.1);
    const file = join(dir, `merge-${m + 1}.json`);
    await generateUntilTinyBaseAccepts(random, {
      allowObjects: false,
      minOps: 1,
      maxOps: 30,
      job: {
        ops: join(dir, `merge-${m + 1}.ops.json`),
        uniqueId: twin ? uniqueId : mergeIds[m],
        fixedNow: twin ? fixedNow : fixedNow + int(-200000, 200000),
        merges: [],
        out: file,
      },
      stats,
    });
    merges.push(file);
  }

  const job = {ops: join(dir, 'ops.json'), uniqueId, fixedNow, merges, out: join(dir, 'expected.json')};
  await generateUntilTinyBaseAccepts(random, {allowObjects: true, minOps: 5, maxOps: 40, job, stats});

  return runTinystoreAndCompare(job, dir, options, chance(0.3) ? random : undefined);
};

// Runs `tinystore apply` with the job's flags (shuffled when `random` is
// given: flags are named, so their order must not matter; --merge order does)
// and compares its output with TinyBase's (job.out).
const runTinystoreAndCompare = (job, dir, options, random) => {
  const actualOut = join(dir, 'actual.json');
  const pairs = applyArgs({...job, out: actualOut});
  if (random) {
    const movable = pairs.filter(([flag]) => flag != '--merge');
    const merges = pairs.filter(([flag]) => flag == '--merge');
    pairs.splice(0, pairs.length, ...random.sample(movable, movable.length), ...merges);
  }
  const args = ['apply', ...pairs.flat()];
  writeFileSync(join(dir, 'command.txt'), [options.tinystore, ...args].map(quoteArg).join(' ') + '\n');

  const run = spawnSync(options.tinystore, args, {timeout: options.timeoutMs, maxBuffer: 1 << 26});
  const problems = [];
  if (run.error || run.status !== 0) {
    const what = run.error ? `failed to run: ${run.error.message}` : `exited with ${run.status ?? run.signal}`;
    problems.push(`tinystore ${what}\n  stderr: ${run.stderr?.toString().trim() || '(empty)'}`);
  } else if (!existsSync(actualOut)) {
    problems.push('tinystore exited 0 but wrote no output file');
  } else {
    const diff = firstDifference(readFileSync(job.out), readFileSync(actualOut));
    if (diff) {
      problems.push(diff);
    }
  }
  return {args, problems};
};

// ------------------------------------------------------------------ fixed cases

// Hand-written scripts that pin down behaviours random scripts reach only
// rarely; they run on every invocation, whatever the seed. Ops are JSON text
// so that spellings such as -0 survive.
const FIXED_CASES = [
  {
    // TinyBase releases a row id to addRow's pool only on an explicit row
    // deletion (delValidRow), not when a row disappears with its last cell;
    // so the second addRow gets "1", not "0".
    name: 'addRow after a row emptied by delCell',
    ops: '[["addRow","t",{"a":1}],["setRow","t","x",{"a":1}],["delCell","t","0","a"],["addRow","t",{"a":2}]]',
  },
  {
    name: 'addRow: reuse pool is FIFO, taken ids are skipped, delTable resets',
    ops:
      '[["addRow","t",{"a":1}],["addRow","t",{"a":1}],["setRow","t","3",{"a":1}],["addRow","t",{"a":1}],' +
      '["delRow","t","1"],["delRow","t","0"],["setRow","t","1",{"b":1}],["addRow","t",{"a":2}],' +
      '["addRow","t",{"a":3}],["addRow","t",{"a":4}],["delRow","t","x"],["setTable","t",{"9":{"a":1}}],' +
      '["addRow","t",{"a":5}],["delTable","t"],["addRow","t",{"a":6}],["addRow","t",{}]]',
  },
  {
    // JSON.parse puts array-index keys first, so cell "2" is written (and
    // stamped) before "z"; "4294967295" and "01" are ordinary keys.
    name: 'JS key order of ids and of object cells',
    ops:
      '[["setRow","t","b",{"z":1,"10":2,"2":3,"01":4,"4294967295":5,"4294967294":6}],' +
      '["setValues",{"b":1,"0":2,"":3}],["setCell","t","a","o",{"b":[1,{"1":0,"a":-0}],"0":1e21,"__proto__":null}],' +
      '["setCell","t","10","o",-0],["setValue","__proto__",[]]]',
  },
  {
    // With a clock frozen at 0, TinyBase's first counter is 1, not 0.
    name: 'clock frozen at 0',
    ops: '[["setCell","t","r","c",1],["setValue","v",2]]',
    fixedNow: 0,
  },
  {
    // Same client id and clock on both sides: equal HLCs, the local stamp stays.
    name: 'merge with equal HLCs keeps the local stamp',
    ops: '[["setCell","t","r","c",1],["setValue","v","local"]]',
    uniqueId: 'same',
    merges: [
      {ops: '[["setCell","t","r","c",2],["setValue","v","remote"],["setValue","w",true]]', uniqueId: 'same'},
    ],
  },
  {
    name: 'merge: newer remote writes and tombstones win, older ones lose',
    ops: '[["setRow","t","r",{"a":1,"b":2}],["setValue","v",1],["delCell","t","r","b"]]',
    merges: [
      {ops: '[["setRow","t","r",{"a":"old"}],["delValue","v"]]', uniqueId: 'old', fixedNow: FIXED_NOW - 1},
      {
        ops: '[["setCell","t","r","b",3],["delRow","t","r"],["setCell","u","0","c",null]]',
        uniqueId: 'new',
        fixedNow: FIXED_NOW + 1000,
      },
    ],
  },
];

const runFixedCase = async (fixedCase, dir, options) => {
  mkdirSync(dir, {recursive: true});
  const uniqueId = fixedCase.uniqueId ?? 'fixed';
  const fixedNow = fixedCase.fixedNow ?? FIXED_NOW;
  const merges = [];
  for (const [m, merge] of (fixedCase.merges ?? []).entries()) {
    const ops = join(dir, `merge-${m + 1}.ops.json`);
    const out = join(dir, `merge-${m + 1}.json`);
    writeFileSync(ops, merge.ops);
    await runApply({ops, uniqueId: merge.uniqueId, fixedNow: merge.fixedNow ?? fixedNow, merges: [], out});
    merges.push(out);
  }
  const job = {ops: join(dir, 'ops.json'), uniqueId, fixedNow, merges, out: join(dir, 'expected.json')};
  writeFileSync(job.ops, fixedCase.ops);
  await runApply(job);
  return runTinystoreAndCompare(job, dir, options);
};

// Describes where two outputs first differ, with context from both; undefined
// when they are identical.
const firstDifference = (expected, actual) => {
  if (expected.equals(actual)) {
    return undefined;
  }
  let at = 0;
  while (at < expected.length && at < actual.length && expected[at] == actual[at]) {
    at++;
  }
  // ~100 bytes either side, widened to whole UTF-8 characters, shown as a JSON
  // string with invisible or look-alike characters escaped.
  const around = (buffer) => {
    let start = Math.max(0, at - 100);
    let end = Math.min(buffer.length, at + 100);
    while (start > 0 && (buffer[start] & 0xc0) == 0x80) {
      start--;
    }
    while (end < buffer.length && (buffer[end] & 0xc0) == 0x80) {
      end++;
    }
    return JSON.stringify(buffer.subarray(start, end).toString('utf8')).replace(
      /[\u007f-\u00a0\u2028\u2029\ufeff\ufff0-\uffff]/g,
      (ch) => '\\u' + hex4(ch.charCodeAt(0)),
    );
  };
  return (
    `outputs differ at byte ${at} (TinyBase ${expected.length} bytes, tinystore ${actual.length} bytes)` +
    `\n  TinyBase : ${around(expected)}` +
    `\n  tinystore: ${around(actual)}`
  );
};

// ------------------------------------------------------------------ error cases

// Bad input must make tinystore fail, with a message and without an output
// file. TinyBase's side must refuse it too, or the case itself is wrong.
const ERROR_CASES = [
  {name: 'sleep op', text: '[["setCell","t","r","c",1],["sleep",5],["setValue","v",2]]'},
  {name: 'sleep inside a transaction', text: '[["transaction",[["setCell","t","r","c",1],["sleep",5]]]]'},
  {name: 'malformed JSON (truncated)', text: '[["setCell","t","r","c",1],'},
  {name: 'malformed JSON (trailing comma)', text: '[["setCell","t","r","c",1],]'},
  {name: 'ops not an array', text: '{"ops":[["setCell","t","r","c",1]]}'},
  {name: 'unknown op', text: '[["setCell","t","r","c",1],["frobnicate","t"]]'},
];

const runErrorCase = async ({text}, dir, options) => {
  mkdirSync(dir, {recursive: true});
  const ops = join(dir, 'ops.json');
  writeFileSync(ops, text);
  const problems = [];

  const tinybaseOut = join(dir, 'tinybase-out.json');
  try {
    await runApply({ops, uniqueId: 'a', fixedNow: FIXED_NOW, merges: [], out: tinybaseOut});
    problems.push('harness bug: tinybase_apply accepted this input');
  } catch {
    // expected
  }

  const out = join(dir, 'actual.json');
  const args = ['apply', ...applyArgs({ops, uniqueId: 'a', fixedNow: FIXED_NOW, merges: [], out}).flat()];
  writeFileSync(join(dir, 'command.txt'), [options.tinystore, ...args].map(quoteArg).join(' ') + '\n');
  const run = spawnSync(options.tinystore, args, {timeout: options.timeoutMs, maxBuffer: 1 << 26});
  if (run.error) {
    problems.push(`tinystore failed to run: ${run.error.message}`);
  } else if (run.status === 0) {
    problems.push('tinystore exited 0 on bad input');
  } else if (run.status === null) {
    problems.push(`tinystore was killed by ${run.signal}`);
  } else if (!run.stderr.toString().trim()) {
    problems.push(`tinystore exited ${run.status} without a message on stderr`);
  }
  if (existsSync(out)) {
    problems.push('tinystore wrote an output file despite the error');
  }
  return {args, problems};
};

// ------------------------------------------------------------------ main

const parseOptions = (argv) => {
  const options = {cases: 300, seed: undefined, only: undefined, keep: undefined, timeoutMs: 60000};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) {
      throw new UsageError(`${flag} needs a value\n${USAGE}`);
    }
    i++;
    const count = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) {
        throw new UsageError(`${flag} needs a non-negative integer`);
      }
      return n;
    };
    switch (flag) {
      case '--tinystore':
        options.tinystore = resolve(value);
        break;
      case '--cases':
        options.cases = count();
        break;
      case '--seed':
        options.seed = value;
        break;
      case '--only':
        options.only = count();
        break;
      case '--keep':
        options.keep = resolve(value);
        break;
      case '--timeout-ms':
        options.timeoutMs = count();
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
    }
  }
  if (!options.tinystore) {
    throw new UsageError(`--tinystore is required\n${USAGE}`);
  }
  if (!existsSync(options.tinystore)) {
    throw new UsageError(`--tinystore ${options.tinystore} does not exist`);
  }
  // A fresh seed per run explores new cases; it is printed so any failure can
  // be replayed.
  options.seed ??= String(Math.floor(Math.random() * 2 ** 32));
  return options;
};

const main = async () => {
  const options = parseOptions(process.argv.slice(2));
  await loadTinyBase();
  const root = options.keep ?? mkdtempSync(join(tmpdir(), 'apply_diff-'));
  mkdirSync(root, {recursive: true});
  console.log(
    `apply_diff: seed ${options.seed}, tinystore ${options.tinystore}, TinyBase from ${nodeModulesDir()}`,
  );

  const stats = {regenerated: 0, firstThrow: undefined};
  const failed = [];
  let total = 0;
  const report = (label, dir, {args, problems}) => {
    total++;
    if (problems.length) {
      failed.push(dir);
      console.log(`\nFAIL ${label}\n  args: ${args.map(quoteArg).join(' ')}\n  files: ${dir}`);
      for (const problem of problems) {
        console.log(`  ${problem}`);
      }
    }
  };

  const caseNumbers =
    options.only === undefined ? Array.from({length: options.cases}, (_, k) => k) : [options.only];
  for (const caseNo of caseNumbers) {
    const dir = join(root, `case-${String(caseNo).padStart(4, '0')}`);
    const label = `case ${caseNo} (replay: --seed ${options.seed} --only ${caseNo})`;
    report(label, dir, await runCase(options.seed, caseNo, dir, options, stats));
  }
  if (options.only === undefined) {
    for (const [k, fixedCase] of FIXED_CASES.entries()) {
      const dir = join(root, `fixed-${k}`);
      report(`fixed case "${fixedCase.name}"`, dir, await runFixedCase(fixedCase, dir, options));
    }
    for (const [k, errorCase] of ERROR_CASES.entries()) {
      const dir = join(root, `error-${k}`);
      report(`error case "${errorCase.name}"`, dir, await runErrorCase(errorCase, dir, options));
    }
  }

  if (stats.regenerated) {
    console.log(
      `apply_diff: ${stats.regenerated} generated scripts were dropped because TinyBase threw ` +
        `(first: ${stats.firstThrow})`,
    );
  }
  if (!options.keep) {
    // Keep only what a failure needs.
    const keep = new Set(failed);
    for (const caseNo of caseNumbers) {
      const dir = join(root, `case-${String(caseNo).padStart(4, '0')}`);
      if (!keep.has(dir)) {
        rmSync(dir, {recursive: true, force: true});
      }
    }
    const others = [
      ...FIXED_CASES.map((_, k) => join(root, `fixed-${k}`)),
      ...ERROR_CASES.map((_, k) => join(root, `error-${k}`)),
    ];
    for (const dir of others) {
      if (!keep.has(dir)) {
        rmSync(dir, {recursive: true, force: true});
      }
    }
    if (!failed.length) {
      rmSync(root, {recursive: true, force: true});
    }
  }
  if (failed.length) {
    console.log(`apply_diff: files of failing cases kept in ${root}`);
  }
  console.log(`apply_diff: ${total} cases, ${failed.length} mismatches`);
  return failed.length ? 1 : 0;
};

try {
  process.exitCode = await main();
} catch (error) {
  process.stderr.write(
    `apply_diff: ${error instanceof UsageError ? error.message : error?.stack ?? error}\n`,
  );
  process.exitCode = 2;
}
