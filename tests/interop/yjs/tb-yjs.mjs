#!/usr/bin/env node
// TinyBase 10.0.1's YjsPersister (with Yjs 13.6) as a command-line tool: the "other side" of
// tinystore's Yjs interop tests (core/tests/yjs/interop.rs). It uses TinyBase and Yjs only
// through their public APIs. `make kit` copies it into target/kit so that its ESM imports
// resolve from target/kit/node_modules: run `node target/kit/tb-yjs.mjs`.

import {readFileSync, writeFileSync} from 'node:fs';
import {createStore} from 'tinybase';
import {createYjsPersister} from 'tinybase/persisters/persister-yjs';
import * as Y from 'yjs';

const USAGE = `usage: node tb-yjs.mjs <command> [files]

commands:
  save <in.json> <out.bin> [<in.json> <out.bin> ...]
      For each pair: a TinyBase store set from in.json (store.setJson: [tables, values] as
      getJson writes them), createYjsPersister(store, new Y.Doc()).save(), and
      Y.encodeStateAsUpdate(doc) written to out.bin.
  load <in.bin> [<in.bin> ...]
      For each file: a new Y.Doc with the update applied, createYjsPersister(...).load(),
      then one line: store.getJson(), or {"error": message} when the load failed.
  merge <in.bin> [<in.bin> ...]
      All updates applied to one new Y.Doc, loaded as by load; one line.
  edit <state.bin> <ops.json> <out.bin> [<theirs.bin> ...]
      A Y.Doc with state.bin, a store auto-persisted in it (startAutoPersisting), the ops
      applied to the store (auto-save writes what they change), the doc's update since
      state.bin written to out.bin; then each theirs.bin applied to the doc (auto-load takes
      it into the store). One line: {"auto": store.getJson() parsed, "loaded": what a fresh
      persister loads from the doc, "map": the doc's map as JSON}.

ops (JSON array of store calls): ["setCell",t,r,c,v] ["delCell",t,r,c] ["delRow",t,r]
  ["delTable",t] ["setValue",id,v] ["delValue",id] ["setRow",t,r,{..}] ... (any store
  method by name, arguments as given) and ["transaction",[op,...]].

exit codes: 0 done, 1 failure, 2 bad arguments.
`;

const fail = (code, message) => {
  process.stderr.write(message + '\n');
  process.exit(code);
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Loads a doc into a new store; the error TinyBase reports to onIgnoredError, if any.
const loadDoc = async (doc) => {
  const store = createStore();
  let error;
  const persister = createYjsPersister(store, doc, 'tinybase', (e) => {
    error = error ?? e;
  });
  await persister.load();
  persister.destroy();
  return error ? {error: String(error?.message ?? error)} : JSON.parse(store.getJson());
};

const docFrom = (...files) => {
  const doc = new Y.Doc();
  for (const file of files) {
    Y.applyUpdate(doc, new Uint8Array(readFileSync(file)));
  }
  return doc;
};

const applyOp = (store, [name, ...args]) => {
  if (name == 'transaction') {
    store.transaction(() => args[0].forEach((op) => applyOp(store, op)));
  } else if (typeof store[name] == 'function') {
    store[name](...args);
  } else {
    throw new Error('unknown op ' + name);
  }
};

// Waits until the persister has nothing running (its saves and loads are promises).
const settle = async (persister) => {
  for (let i = 0; i < 200; i++) {
    await sleep(2);
    if (persister.getStatus() == 0) {
      await sleep(2);
      if (persister.getStatus() == 0) {
        return;
      }
    }
  }
  throw new Error('the persister did not settle');
};

const commands = {
  save: async (files) => {
    if (files.length == 0 || files.length % 2) {
      fail(2, USAGE);
    }
    for (let i = 0; i < files.length; i += 2) {
      const store = createStore();
      store.setJson(readFileSync(files[i], 'utf8'));
      const doc = new Y.Doc();
      const persister = createYjsPersister(store, doc);
      await persister.save();
      persister.destroy();
      writeFileSync(files[i + 1], Y.encodeStateAsUpdate(doc));
    }
  },
  load: async (files) => {
    for (const file of files) {
      console.log(JSON.stringify(await loadDoc(docFrom(file))));
    }
  },
  merge: async (files) => {
    console.log(JSON.stringify(await loadDoc(docFrom(...files))));
  },
  edit: async ([state, opsFile, out, ...theirs]) => {
    if (!out) {
      fail(2, USAGE);
    }
    const doc = docFrom(state);
    const before = Y.encodeStateVector(doc);
    const store = createStore();
    let error;
    const persister = createYjsPersister(store, doc, 'tinybase', (e) => {
      error = error ?? e;
    });
    await persister.startAutoPersisting();
    // One op at a time: TinyBase's observer also fires for its own saves, and an auto-save
    // that starts while that echo is being loaded is skipped (TinyBase 10.0.1 loses the
    // second of two back-to-back transactions when auto-loading too).
    for (const op of JSON.parse(readFileSync(opsFile, 'utf8'))) {
      applyOp(store, op);
      await settle(persister);
    }
    writeFileSync(out, Y.encodeStateAsUpdate(doc, before));
    for (const file of theirs) {
      Y.applyUpdate(doc, new Uint8Array(readFileSync(file)));
    }
    await settle(persister);
    persister.destroy();
    if (error) {
      throw error;
    }
    console.log(
      JSON.stringify({
        auto: JSON.parse(store.getJson()),
        loaded: await loadDoc(doc),
        map: doc.getMap('tinybase').toJSON(),
      }),
    );
  },
};

const [command, ...files] = process.argv.slice(2);
if (!commands[command]) {
  fail(2, USAGE);
}
try {
  await commands[command](files);
} catch (e) {
  fail(1, String(e?.stack ?? e));
}
