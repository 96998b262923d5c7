// The TinyBase side of tinystore's AutomergePersister interop tests (core/tests/automerge.rs):
// TinyBase 10.0.1's createAutomergePersister on @automerge/automerge-repo documents, with
// documents exchanged as the bytes of Automerge.save. `make kit` copies this file beside the
// kit's node_modules. Content goes in and out as TinyBase's getJson/setJson text.
//
//   save <content.json> <out.bin> [...]   a new document per pair, the store saved into it
//   load <in.bin> [...]                   one line per document: the store loaded from it
//   types <in.bin>                        what JavaScript reads at each cell of the document
//   edit <in.bin> <ops.json> <out.bin>    load, auto-save while applying store ops
//                                         ([["setCell", t, r, c, v], ...]), save the document
//   merge <in.bin> <other.bin> <out.bin>  load and auto-load, merge the other document in,
//                                         print the store, save the merged document

import {readFileSync, writeFileSync} from 'node:fs';
import * as Automerge from '@automerge/automerge';
import {Repo} from '@automerge/automerge-repo';
import {createStore} from 'tinybase';
import {createAutomergePersister} from 'tinybase/persisters/persister-automerge';

const repo = new Repo({network: []});
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

const open = (path) => repo.import(new Uint8Array(readFileSync(path)));

const persisted = async (handle) => {
  const store = createStore();
  const persister = createAutomergePersister(store, handle, 'tinybase', (e) => {
    console.error(`ignored error: ${e}`);
    process.exitCode = 1;
  });
  await persister.load();
  return [store, persister];
};

// Waits for what auto-save/auto-load queued to run.
const settle = async (persister) => {
  for (let i = 0; i < 3; i++) {
    await tick();
    await persister.schedule();
  }
};

const describe = (value) => {
  if (value === null) return 'null';
  if (typeof value != 'object') return typeof value;
  return value.constructor?.name ?? 'object';
};

const describeAll = (obj, depth) =>
  Object.fromEntries(
    Object.entries(obj).map(([id, value]) => [
      id,
      depth == 0 ? describe(value) : describeAll(value, depth - 1),
    ]),
  );

const [mode, ...args] = process.argv.slice(2);
switch (mode) {
  case 'save':
    for (let i = 0; i + 1 < args.length; i += 2) {
      const handle = repo.create();
      const store = createStore().setJson(readFileSync(args[i], 'utf8'));
      await createAutomergePersister(store, handle).save();
      writeFileSync(args[i + 1], Automerge.save(handle.doc()));
    }
    break;
  case 'load':
    for (const path of args) {
      const [store] = await persisted(open(path));
      console.log(store.getJson());
    }
    break;
  case 'types': {
    const {t, v} = open(args[0]).doc().tinybase;
    console.log(JSON.stringify({t: describeAll(t, 2), v: describeAll(v, 0)}));
    break;
  }
  case 'edit': {
    const handle = open(args[0]);
    const [store, persister] = await persisted(handle);
    await persister.startAutoSave();
    for (const [op, ...opArgs] of JSON.parse(readFileSync(args[1], 'utf8'))) {
      store[op](...opArgs);
    }
    await settle(persister);
    writeFileSync(args[2], Automerge.save(handle.doc()));
    console.log(store.getJson());
    break;
  }
  case 'merge': {
    const handle = open(args[0]);
    const [store, persister] = await persisted(handle);
    await persister.startAutoLoad();
    const other = new Uint8Array(readFileSync(args[1]));
    handle.update((doc) => Automerge.loadIncremental(doc, other));
    await settle(persister);
    console.log(store.getJson());
    writeFileSync(args[2], Automerge.save(handle.doc()));
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exitCode = 2;
}
await repo.shutdown();
process.exit(process.exitCode ?? 0);
