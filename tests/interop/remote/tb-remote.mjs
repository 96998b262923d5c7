// The TinyBase side of the remote persister's interop tests (core/tests/remote.rs), and the
// HTTP server both sides talk to. `make kit` copies this file beside the kit's node_modules.
//
//   node tb-remote.mjs serve
//       An HTTP server on 127.0.0.1 (prints `PORT <n>`, then `READY`) keeping one document per
//       path: `POST /<path>` stores the body, `GET`/`HEAD /<path>` answer it with an `ETag`
//       ("<version>") and `304` when `If-None-Match` names the current one. Every request is
//       recorded; `GET /_log` answers the records (method, path, content-type,
//       if-none-match, body) and `POST /_reset` clears them. `/_status/<code>` answers that
//       status; `/_text` answers a body that is not JSON; `/_redirect/<path>`
//       redirects (302) to /<path>; `/_noetag/<path>` serves a path's
//       document without an ETag; `/_slow` answers after 5 s. Stops when stdin closes.
//   node tb-remote.mjs save <loadUrl> <saveUrl> <content.json> [mergeable]
//       A TinyBase store holding the content, saved by `createRemotePersister`.
//   node tb-remote.mjs load <loadUrl>
//       A TinyBase store loaded by `createRemotePersister`; prints `JSON.stringify(getContent())`.
//   node tb-remote.mjs poll <loadUrl> <seconds>
//       Loads, starts auto-load with a 1 s interval for <seconds>, prints the content then.

import http from 'node:http';
import {readFileSync} from 'node:fs';
import {createStore, createMergeableStore} from 'tinybase';
import {createRemotePersister} from 'tinybase/persisters/persister-remote';

const [, , mode, ...args] = process.argv;

const serve = () => {
  const docs = new Map();
  let log = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url;
      if (path === '/_log') {
        res.writeHead(200, {'Content-Type': 'application/json'});
        return res.end(JSON.stringify(log));
      }
      if (path === '/_reset') {
        log = [];
        return res.end();
      }
      log.push({
        method: req.method,
        path,
        contentType: req.headers['content-type'] ?? null,
        ifNoneMatch: req.headers['if-none-match'] ?? null,
        body,
      });
      if (path.startsWith('/_status/')) {
        res.writeHead(Number(path.slice(9)));
        return res.end();
      }
      if (path.startsWith('/_redirect/')) {
        res.writeHead(302, {Location: path.slice(10)});
        return res.end();
      }
      if (path === '/_text') {
        res.writeHead(200, {ETag: '"text"'});
        return res.end('this is not a store');
      }
      if (path === '/_slow') {
        return setTimeout(() => res.end('[{},{}]'), 5000);
      }
      const noEtag = path.startsWith('/_noetag/');
      const key = noEtag ? path.slice(8) : path;
      if (req.method === 'POST') {
        const version = (docs.get(key)?.version ?? 0) + 1;
        docs.set(key, {body, version});
        res.writeHead(200);
        return res.end();
      }
      const doc = docs.get(key);
      if (!doc) {
        res.writeHead(404);
        return res.end();
      }
      const etag = `"${doc.version}"`;
      if (!noEtag && req.headers['if-none-match'] === etag) {
        res.writeHead(304, {ETag: etag});
        return res.end();
      }
      res.writeHead(200, {
        'Content-Type': 'application/json',
        ...(noEtag ? {} : {ETag: etag}),
      });
      res.end(req.method === 'HEAD' ? undefined : doc.body);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    console.log(`PORT ${server.address().port}`);
    console.log('READY');
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
};

const main = async () => {
  switch (mode) {
    case 'serve':
      return serve();
    case 'save': {
      const [loadUrl, saveUrl, file, kind] = args;
      const store = kind === 'mergeable' ? createMergeableStore('tb') : createStore();
      store.setContent(JSON.parse(readFileSync(file, 'utf8')));
      const persister = createRemotePersister(store, loadUrl, saveUrl, 1);
      await persister.save();
      await persister.destroy();
      return;
    }
    case 'load': {
      const store = createStore();
      const errors = [];
      const persister = createRemotePersister(store, args[0], args[0], 1, (e) =>
        errors.push(String(e?.status ?? e)),
      );
      await persister.load();
      await persister.destroy();
      console.log(JSON.stringify(store.getContent()));
      return;
    }
    case 'poll': {
      const store = createStore();
      const persister = createRemotePersister(store, args[0], args[0], 1);
      await persister.startAutoLoad();
      await new Promise((r) => setTimeout(r, Number(args[1]) * 1000));
      await persister.destroy();
      console.log(JSON.stringify(store.getContent()));
      return;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
};

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
