// The /inspector page of `tinystore serve` in a real browser: headless Chromium (Debian's
// package) driven by playwright-core, real TinyBase 10.0.1 clients from the kit writing through
// the real server. Run by `make inspector-test` (part of `make test`); README.md beside this
// file says what each step checks and how to run it by hand.
//
// Steps are numbered as in the issue's "Done when" list, so that a failure names the item it
// breaks. They run in order and share one server: a later step fails (it is never skipped)
// when an earlier one left nothing to look at.

import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join, resolve} from 'node:path';
import {after, before, describe, it} from 'node:test';
import {fileURLToPath, pathToFileURL} from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET = join(REPO, 'target');
const WORK = join(TARGET, 'inspector');
const BIN = process.env.TINYSTORE_BIN || join(TARGET, 'release/tinystore');
const CHROMIUM = process.env.INSPECTOR_CHROMIUM || '/usr/bin/chromium';
// The kit's TinyBase and ws (make kit) and playwright-core (make inspector-test) live under
// target/, not beside this file: the repo tree stays free of node_modules.
const KIT_MODULES = process.env.TINYSTORE_NODE_MODULES || join(TARGET, 'kit/node_modules');
const BROWSER_MODULES =
  process.env.INSPECTOR_NODE_MODULES || join(TARGET, 'inspector-node/node_modules');
const SCREENSHOT = process.env.INSPECTOR_SCREENSHOT || join(REPO, 'docs/inspector.png');

const ROOM = 'petShop';
const TOKEN = 'inspector-test-token';
// A string the page must show as text: markup written into the DOM as HTML would either
// vanish (a <script> inserted through innerHTML does not run, but its text disappears) or run
// (an <img> whose onerror fires once its load fails).
const XSS_CELL = '<script>window.__xss=1</script>';
const XSS_VALUE = '<img src=x onerror="window.__xss=2">';

// playwright's own flags plus ours; the profile directory goes through launchPersistentContext
// because playwright refuses --user-data-dir among launch()'s args.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ------------------------------------------------------------------------------- modules

const requireFrom = (modules) => createRequire(join(dirname(modules), 'resolver.cjs'));

const load = async (modules, specifier, how) => {
  let path;
  try {
    path = requireFrom(modules).resolve(specifier);
  } catch (e) {
    throw new Error(`${specifier} is not installed under ${modules} (${how}): ${e.message}`);
  }
  return import(pathToFileURL(path).href);
};

const {createMergeableStore} = await load(KIT_MODULES, 'tinybase', 'make kit');
const {createWsSynchronizer} = await load(
  KIT_MODULES,
  'tinybase/synchronizers/synchronizer-ws-client',
  'make kit',
);
// CommonJS packages: their module.exports is the default export.
const WebSocket = (await load(KIT_MODULES, 'ws', 'make kit')).default;
const {chromium} = (await load(BROWSER_MODULES, 'playwright-core', 'make inspector-test')).default;

// ------------------------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const withTimeout = (promise, ms, what) => {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

// Polls a condition of this process (a client's store, an HTTP answer).
const waitFor = async (what, check, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > end) {
      throw new Error(`${what}: not so within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    }
    await sleep(50);
  }
};

const servers = new Set();
const clients = new Set();

// `tinystore serve` on a free port with a fresh room database; resolves once it printed
// 'PORT <n>' and 'READY'. Its stdin is a pipe: should this process die, the server sees it
// close and stops (cli/src/sync.rs).
const startServer = async (name, extraArgs) => {
  if (!existsSync(BIN)) {
    throw new Error(`no tinystore binary at ${BIN} (make inspector-test builds it)`);
  }
  mkdirSync(WORK, {recursive: true});
  const db = join(WORK, `${name}.sqlite`);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(db + suffix, {force: true});
  const args = ['serve', '--port', '0', '--db', db, ...extraArgs];
  const command = `tinystore ${args.join(' ')}`;
  const child = spawn(BIN, args, {stdio: ['pipe', 'pipe', 'pipe']});
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 20000) stderr += d;
  });
  const server = {
    child,
    command,
    stderr: () => stderr.trim(),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // A clean stop saves every room first (docs/sync.md); a hung one is killed.
      if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  servers.add(server);
  const port = await new Promise((resolvePort, reject) => {
    let out = '';
    let port;
    const timer = setTimeout(
      () => reject(new Error(`${command}: no READY within 10 s; stderr: ${stderr.trim()}`)),
      10000,
    );
    const done = (f, v) => {
      clearTimeout(timer);
      f(v);
    };
    child.stdout.on('data', (d) => {
      out += d;
      for (const line of out.split('\n')) {
        if (line.startsWith('PORT ')) port = Number(line.slice(5));
        if (line === 'READY' && port) done(resolvePort, port);
      }
    });
    child.once('error', (e) => done(reject, new Error(`${command}: cannot start: ${e.message}`)));
    child.once('exit', (code, signal) =>
      done(
        reject,
        new Error(`${command} exited (${code ?? signal}) before READY; stderr: ${stderr.trim()}`),
      ),
    );
  });
  server.port = port;
  server.http = `http://127.0.0.1:${port}`;
  server.ws = `ws://127.0.0.1:${port}`;
  return server;
};

// A TinyBase MergeableStore synchronized with a room of the server, as a TinyBase app does.
const connectClient = async (server, room, token) => {
  const url = `${server.ws}/${room}${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  const store = createMergeableStore();
  const webSocket = new WebSocket(url);
  const ignoredErrors = [];
  const client = {store, webSocket, ignoredErrors, synchronizer: undefined};
  clients.add(client);
  client.synchronizer = await withTimeout(
    createWsSynchronizer(store, webSocket, 1, undefined, undefined, (e) =>
      ignoredErrors.push(String(e)),
    ),
    5000,
    `TinyBase client connecting to ${url}`,
  );
  await withTimeout(client.synchronizer.startSync(), 5000, `TinyBase client startSync on ${url}`);
  return client;
};

const stopClient = async (client) => {
  clients.delete(client);
  try {
    await withTimeout(client.synchronizer?.destroy() ?? Promise.resolve(), 2000, 'destroy');
  } catch {
    // The socket is terminated below whatever destroy() did.
  }
  client.webSocket.terminate();
};

// The HLC TinyBase stamped a cell with: mergeable content is
// [[{tableId: [{rowId: [{cellId: [value, hlc, hash]}, …]}, …]}, …], values].
const cellHlc = (store, table, row, cell) =>
  store.getMergeableContent()[0][0][table][0][row][0][cell][1];

const getJson = async (url) => {
  const response = await withTimeout(fetch(url), 5000, `GET ${url}`);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    // Left undefined: the caller's assertion names the status and shows the text.
  }
  return {status: response.status, text, json};
};

const cellSelector = (table, row, cell) =>
  `#tables section.table[data-table="${table}"] tr[data-row="${row}"] td[data-cell="${cell}"]`;

// What the page shows, for failure messages.
const pageSummary = async (page) => {
  try {
    const text = await page.evaluate(() => document.body?.innerText ?? '');
    return `${page.url()} shows: ${JSON.stringify(text.slice(0, 600))}`;
  } catch (e) {
    return `(page unreadable: ${e.message.split('\n')[0]})`;
  }
};

// Waits for a condition evaluated in the page; a timeout says what was awaited and what the
// page shows instead.
const waitInPage = async (page, what, fn, arg, timeoutMs = 5000) => {
  try {
    return await page.waitForFunction(fn, arg, {timeout: timeoutMs, polling: 50});
  } catch (e) {
    throw new Error(
      `${what}: not so within ${timeoutMs} ms (${e.message.split('\n')[0]}); ${await pageSummary(page)}` +
        (page.errors.length ? `; page errors: ${page.errors.join(' | ')}` : ''),
    );
  }
};

const waitText = (page, what, selector, expected, timeoutMs) =>
  waitInPage(
    page,
    `${what} (${selector} reading ${JSON.stringify(expected)})`,
    ([s, e]) => document.querySelector(s)?.textContent.trim() === e,
    [selector, expected],
    timeoutMs,
  );

// ------------------------------------------------------------------------------- browser

let context;
let profile;

const newPage = async () => {
  assert.ok(context, 'Chromium did not start (see the before hook)');
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
};

// Last resort when the test process itself is being torn down: no server outlives it.
process.on('exit', () => {
  for (const server of servers) server.child.kill('SIGKILL');
});

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM} (make inspector-test installs Debian's chromium package)`,
  );
  mkdirSync(WORK, {recursive: true});
  profile = mkdtempSync(join(WORK, 'chromium-profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: {width: 1280, height: 800},
    timeout: 30000,
  });
});

after(async () => {
  // Each cleanup runs whatever the one before it did: the whole point is not to leak.
  for (const client of [...clients]) await stopClient(client).catch(() => {});
  for (const server of [...servers]) await server.stop().catch(() => {});
  await context?.close().catch(() => {});
  if (profile) rmSync(profile, {recursive: true, force: true});
});

// ------------------------------------------------------------------------------- steps

describe('inspector of a server with --inspector-write', () => {
  let server;
  let alice;
  let bob;
  let page;

  const need = () =>
    assert.ok(page && alice && bob, 'step 1 did not get the room onto the page (see its failure)');

  it(
    '1. two TinyBase clients write to petShop; the page lists the room and shows its cells',
    {timeout: 40000},
    async () => {
      server = await startServer('rooms', ['--inspector-write']);
      alice = await connectClient(server, ROOM);
      bob = await connectClient(server, ROOM);
      alice.store.setRow('pets', 'fido', {species: 'dog', legs: 4});
      bob.store.setRow('pets', 'felix', {species: 'cat', legs: 4});
      // Through the server first: what the page shows must be what the clients agree on.
      await waitFor('both clients hold fido and felix (synced through tinystore serve)', () =>
        [alice, bob].every(
          (c) =>
            c.store.getCell('pets', 'fido', 'legs') === 4 &&
            c.store.getCell('pets', 'felix', 'legs') === 4,
        ),
      );

      await waitFor(
        'GET /inspector/api/rooms lists petShop with its 2 clients and 4 cells',
        async () => {
          const r = await getJson(`${server.http}/inspector/api/rooms`);
          assert.equal(
            r.status,
            200,
            `GET /inspector/api/rooms answered ${r.status}: ${r.text.slice(0, 200)}`,
          );
          const room = r.json?.rooms?.find((x) => x.path === ROOM);
          return room?.clients === 2 && room?.cells === 4;
        },
      );

      page = await newPage();
      const response = await page.goto(`${server.http}/inspector`, {timeout: 10000});
      assert.equal(
        response.status(),
        200,
        `GET /inspector answered ${response.status()} (a tinystore without the inspector answers 404)`,
      );
      const row = `#rooms tr[data-room="${ROOM}"]`;
      await waitText(page, 'the rooms table counts the 2 clients', `${row} td.clients`, '2', 10000);
      await waitText(page, 'the rooms table counts the 4 cells', `${row} td.cells`, '4');
      await waitInPage(
        page,
        'the rooms table shows when petShop last changed',
        (s) => document.querySelector(s)?.textContent.trim() !== '',
        `${row} td.last-change`,
      );

      await page.click(row, {timeout: 5000});
      await waitText(page, 'clicking the room opens it', '#room-title', ROOM);
      await waitText(page, 'fido.species', cellSelector('pets', 'fido', 'species'), 'dog');
      await waitText(
        page,
        'fido.legs (a number, as JSON)',
        cellSelector('pets', 'fido', 'legs'),
        '4',
      );
      await waitText(page, 'felix.species', cellSelector('pets', 'felix', 'species'), 'cat');
      await waitText(page, 'felix.legs', cellSelector('pets', 'felix', 'legs'), '4');

      const title = await page.getAttribute(cellSelector('pets', 'fido', 'species'), 'title');
      assert.match(
        title ?? '',
        /^HLC \S+ · \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) · counter \d+ · client \S+$/,
        'the title of a cell is "HLC <hlc> · <ISO time> · counter <n> · client <client>"',
      );
      const hlc = cellHlc(alice.store, 'pets', 'fido', 'species');
      assert.ok(
        title.startsWith(`HLC ${hlc} · `),
        `the title "${title}" names the HLC ${hlc} that TinyBase stamped`,
      );

      await waitInPage(
        page,
        'the live stream is connected (body[data-live="on"])',
        () => document.body.dataset.live === 'on',
      );
    },
  );

  it(
    '2. a third write appears on the page within 2 s, without a reload',
    {timeout: 20000},
    async () => {
      need();
      // The observer notes the moment the DOM first shows the new row: the page's own clock
      // and this process's are the same wall clock.
      await page.evaluate(
        (selector) => {
          window.__sameDocument = true;
          const seen = () => {
            if (
              !window.__seenAt &&
              document.querySelector(selector)?.textContent.trim() === 'dog'
            ) {
              window.__seenAt = Date.now();
            }
          };
          new MutationObserver(seen).observe(document, {
            subtree: true,
            childList: true,
            characterData: true,
            attributes: true,
          });
          seen();
        },
        cellSelector('pets', 'rex', 'species'),
      );
      const wroteAt = Date.now();
      bob.store.setRow('pets', 'rex', {species: 'dog', legs: 3});
      // Waits past the 2 s so that a late update is reported with its delay, not as a timeout.
      await waitInPage(
        page,
        'the third write (pets/rex) shows on the page',
        () => window.__seenAt,
        undefined,
        6000,
      );
      const seenAt = await page.evaluate(() => window.__seenAt);
      const delay = seenAt - wroteAt;
      assert.ok(delay <= 2000, `pets/rex showed ${delay} ms after the write (at most 2000 ms)`);
      assert.equal(
        await page.evaluate(() => window.__sameDocument),
        true,
        'the page was reloaded to show the write (it must update live)',
      );
      await waitText(page, 'rex.legs', cellSelector('pets', 'rex', 'legs'), '3');
      assert.equal(
        await page.evaluate(() => document.body.dataset.live),
        'on',
        'the live stream dropped',
      );
    },
  );

  it('6. a screenshot of the live room goes to docs/inspector.png', {timeout: 20000}, async () => {
    need();
    await waitInPage(
      page,
      'the live stream is connected',
      () => document.body.dataset.live === 'on',
    );
    await waitText(page, 'the open room', '#room-title', ROOM);
    await waitText(page, 'rex.species', cellSelector('pets', 'rex', 'species'), 'dog');
    mkdirSync(dirname(SCREENSHOT), {recursive: true});
    await page.screenshot({path: SCREENSHOT, timeout: 10000});
    const png = readFileSync(SCREENSHOT);
    assert.ok(
      png.length > 5000 && png.subarray(1, 4).toString() === 'PNG',
      `${SCREENSHOT} is not a plausible PNG (${png.length} bytes)`,
    );
  });

  it(
    '3. markup in a cell and a value shows as literal text and never runs',
    {timeout: 20000},
    async () => {
      need();
      alice.store.setCell('pets', 'felix', 'note', XSS_CELL);
      alice.store.setValue('motto', XSS_VALUE);
      await waitText(
        page,
        'the <script> cell as text',
        cellSelector('pets', 'felix', 'note'),
        XSS_CELL,
      );
      await waitText(
        page,
        'the <img onerror> value as text',
        '#values tr[data-value="motto"] td.value',
        XSS_VALUE,
      );
      // An <img src=x> put into the DOM would fire onerror only once its load fails.
      await sleep(500);
      assert.equal(
        await page.evaluate(() => window.__xss),
        undefined,
        'markup from the store ran in the page',
      );
      assert.equal(
        await page.evaluate(
          () =>
            document.querySelectorAll('#tables script, #tables img, #values script, #values img')
              .length,
        ),
        0,
        'markup from the store became elements of the page',
      );
    },
  );

  it(
    '4. an edit on the page (double-click, type, Enter) reaches the TinyBase clients',
    {timeout: 20000},
    async () => {
      need();
      const api = await getJson(`${server.http}/inspector/api/rooms`);
      assert.equal(
        api.json?.write,
        true,
        'the API says write is off although the server runs with --inspector-write',
      );
      const cell = cellSelector('pets', 'fido', 'species');
      await page.dblclick(cell, {timeout: 5000});
      const editor = page.locator('input.cell-editor');
      try {
        await editor.waitFor({state: 'visible', timeout: 5000});
      } catch (e) {
        throw new Error(
          `double-clicking ${cell} opened no input.cell-editor: ${e.message.split('\n')[0]}`,
        );
      }
      await editor.fill('wolf');
      await editor.press('Enter');
      await waitInPage(page, 'the status reports the save (#status "saved" or "refused: …")', () =>
        /^(saved|refused)/i.test(document.querySelector('#status')?.textContent.trim() ?? ''),
      );
      const status = (await page.textContent('#status')).trim();
      assert.match(status, /^saved/i, `the edit was not saved: #status reads "${status}"`);
      await waitFor(
        'both TinyBase clients receive the edit (pets/fido/species = "wolf")',
        () => [alice, bob].every((c) => c.store.getCell('pets', 'fido', 'species') === 'wolf'),
        5000,
      );
      await waitText(page, 'the edited cell', cell, 'wolf');
    },
  );

  after(async () => {
    await page?.close().catch(() => {});
    for (const client of [alice, bob]) if (client) await stopClient(client).catch(() => {});
    await server?.stop();
  });
});

describe('inspector of a server with --auth-tokens', () => {
  let server;
  let client;

  it(
    '5. without a token the page and the API answer 401 and show no data; with one they work',
    {timeout: 40000},
    async () => {
      const tokens = join(WORK, 'tokens.json');
      mkdirSync(WORK, {recursive: true});
      writeFileSync(
        tokens,
        JSON.stringify({tokens: {[TOKEN]: {rooms: ['*'], access: 'read-write', stats: true}}}),
      );
      server = await startServer('rooms-auth', ['--auth-tokens', tokens]);
      client = await connectClient(server, ROOM, TOKEN);
      client.store.setRow('pets', 'fido', {species: 'dog', legs: 4});
      const query = `?token=${encodeURIComponent(TOKEN)}`;
      await waitFor("the API (with the token) counts the client's 2 cells in petShop", async () => {
        const r = await getJson(`${server.http}/inspector/api/rooms${query}`);
        assert.equal(
          r.status,
          200,
          `GET /inspector/api/rooms${query} answered ${r.status}: ${r.text.slice(0, 200)}`,
        );
        return r.json?.rooms?.find((x) => x.path === ROOM)?.cells === 2;
      });

      for (const path of ['/inspector', '/inspector/api/rooms']) {
        const r = await getJson(`${server.http}${path}`);
        assert.equal(r.status, 401, `GET ${path} without a token answered ${r.status}, not 401`);
        assert.ok(
          !r.text.includes('fido') && !r.text.includes(ROOM),
          `GET ${path} without a token leaks room data: ${r.text.slice(0, 200)}`,
        );
      }
      const refused = await newPage();
      try {
        const response = await refused.goto(
          `${server.http}/inspector#room=${encodeURIComponent(ROOM)}`,
          {timeout: 10000},
        );
        assert.equal(
          response.status(),
          401,
          `the page without a token answered ${response.status()}, not 401`,
        );
        // Time for any script of the page to fetch and render whatever it could get.
        await sleep(1000);
        const shown = await refused.evaluate(() => ({
          rooms: document.querySelectorAll('tr[data-room]').length,
          cells: document.querySelectorAll('td[data-cell]').length,
          text: document.body?.innerText ?? '',
        }));
        assert.equal(shown.rooms + shown.cells, 0, 'the page without a token shows rooms or cells');
        assert.ok(
          !shown.text.includes('fido') && !shown.text.includes(ROOM),
          `the page without a token shows room data: ${shown.text.slice(0, 200)}`,
        );
      } finally {
        await refused.close();
      }

      const page = await newPage();
      try {
        // The room opens from the URL hash here (step 1 clicked its row).
        const response = await page.goto(
          `${server.http}/inspector${query}#room=${encodeURIComponent(ROOM)}`,
          {timeout: 10000},
        );
        assert.equal(
          response.status(),
          200,
          `the page with a valid token answered ${response.status()}`,
        );
        await waitInPage(
          page,
          'the rooms table lists petShop',
          (s) => !!document.querySelector(s),
          `#rooms tr[data-room="${ROOM}"]`,
          10000,
        );
        await waitText(page, 'the hash opens the room', '#room-title', ROOM);
        await waitText(page, 'fido.species', cellSelector('pets', 'fido', 'species'), 'dog');
        await waitInPage(
          page,
          'the live stream is connected with the token',
          () => document.body.dataset.live === 'on',
        );
        const api = await getJson(`${server.http}/inspector/api/rooms${query}`);
        assert.equal(
          api.json?.write,
          false,
          'the API says write is on although the server runs without --inspector-write',
        );
      } finally {
        await page.close();
      }
    },
  );

  after(async () => {
    if (client) await stopClient(client).catch(() => {});
    await server?.stop();
  });
});

// Bounds the whole run whatever hangs (each wait above has its own, shorter, timeout).
setTimeout(() => {
  process.stderr.write('inspector.test.mjs: still running after 120 s: stopping\n');
  for (const server of servers) server.child.kill('SIGKILL');
  process.exit(1);
}, 120000).unref();
