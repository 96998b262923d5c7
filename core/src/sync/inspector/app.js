// tinystore inspector: the rooms of a sync server, live. Plain DOM, no build step. Every id and
// value is written with textContent / setAttribute, never as HTML.
'use strict';

(() => {
  const BASE = location.pathname.replace(/\/+$/, '');
  const TOKEN = new URLSearchParams(location.search).get('token');
  const PAGE = 100;

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, props = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const state = {
    write: false,
    room: null, // the open room's path
    table: null,
    offset: 0,
    search: '',
    events: null,
    denied: false,
    editing: false,
    pendingRefresh: false,
  };

  function apiUrl(path, params = {}) {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== null && v !== undefined && v !== '') query.set(k, String(v));
    }
    if (TOKEN) query.set('token', TOKEN);
    const qs = query.toString();
    return BASE + '/api/' + path + (qs ? '?' + qs : '');
  }

  function setStatus(text, isError = false) {
    const status = $('#status');
    status.textContent = text;
    status.classList.toggle('error', isError);
  }

  class HttpError extends Error {
    constructor(status, reason) {
      super(reason);
      this.status = status;
    }
  }

  async function request(url, options) {
    const response = await fetch(url, options);
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const reason = body && typeof body.error === 'string' ? body.error : response.statusText;
      throw new HttpError(response.status, reason);
    }
    return body;
  }

  // 401/403 on a read: show why and no data.
  function denied(error) {
    state.denied = true;
    setStatus(error.status + ' ' + error.message, true);
    clear($('#rooms tbody'));
    clearRoom();
    closeEvents();
  }

  function failed(error) {
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
      denied(error);
    } else {
      setStatus(error instanceof HttpError ? error.status + ' ' + error.message : String(error), true);
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const display = (value) => (typeof value === 'string' ? value : JSON.stringify(value));

  function stampTitle(stamp) {
    const iso = Number.isFinite(stamp.time) ? new Date(stamp.time).toISOString() : '?';
    return 'HLC ' + stamp.hlc + ' · ' + iso + ' · counter ' + stamp.counter + ' · client ' + stamp.client;
  }

  function ago(ms) {
    if (ms === null || ms === undefined) return '—';
    const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (seconds < 60) return seconds + ' s ago';
    if (seconds < 3600) return Math.round(seconds / 60) + ' min ago';
    return new Date(ms).toLocaleString();
  }

  // ---------------------------------------------------------------- rooms

  async function loadRooms() {
    let data;
    try {
      data = await request(apiUrl('rooms'));
    } catch (error) {
      failed(error);
      return;
    }
    state.denied = false;
    state.write = data.write === true;
    document.body.classList.toggle('writable', state.write);
    $('#legend').textContent = state.write ? 'edits enabled (double-click a cell)' : 'edits disabled';
    const body = $('#rooms tbody');
    clear(body);
    for (const room of data.rooms || []) {
      const row = el('tr', { 'data-room': room.path });
      const name = el('td', { class: 'path' });
      name.appendChild(el('a', { class: 'room-link', href: '#room=' + encodeURIComponent(room.path) }, room.path));
      row.appendChild(name);
      row.appendChild(el('td', { class: 'clients' }, String(room.clients)));
      row.appendChild(el('td', { class: 'cells' }, room.stored ? String(room.cells) : '—'));
      row.appendChild(el('td', { class: 'last-change' }, room.stored ? ago(room.lastChange) : 'relay only'));
      if (room.lastChange) row.lastElementChild.setAttribute('title', new Date(room.lastChange).toISOString());
      row.classList.toggle('open', room.path === state.room);
      row.addEventListener('click', (event) => {
        event.preventDefault();
        openRoom(room.path);
      });
      body.appendChild(row);
    }
    if (!(data.rooms || []).length) {
      const row = el('tr');
      row.appendChild(el('td', { class: 'empty', colspan: '4' }, 'no rooms yet'));
      body.appendChild(row);
    }
  }

  // ---------------------------------------------------------------- one room

  function clearRoom() {
    $('#room-title').textContent = '';
    clear($('#table-tabs'));
    clear($('#tables'));
    clear($('#values tbody'));
    $('.page-info').textContent = '';
  }

  function openRoom(path) {
    const hash = '#room=' + encodeURIComponent(path);
    if (location.hash !== hash) {
      history.replaceState(null, '', hash);
    }
    if (state.room !== path) {
      state.room = path;
      state.table = null;
      state.offset = 0;
      state.search = '';
      $('#row-search').value = '';
      clearRoom();
      $('#room-title').textContent = path;
      for (const row of document.querySelectorAll('#rooms tr[data-room]')) {
        row.classList.toggle('open', row.getAttribute('data-room') === path);
      }
      openEvents();
    }
    loadRoom();
  }

  function roomFromHash() {
    const match = /^#room=(.*)$/.exec(location.hash);
    if (!match) return null;
    try {
      return decodeURIComponent(match[1]);
    } catch (_) {
      return null;
    }
  }

  let loading = null;

  async function loadRoom() {
    if (state.room === null || state.denied) return;
    // While a cell is being edited the page keeps still; it catches up when the edit ends.
    if (state.editing) {
      state.pendingRefresh = true;
      return;
    }
    const path = state.room;
    const ticket = {};
    loading = ticket;
    let data;
    try {
      data = await request(
        apiUrl('room', { path, table: state.table, offset: state.offset, limit: PAGE, row: state.search }),
      );
    } catch (error) {
      if (loading !== ticket) return;
      if (error instanceof HttpError && error.status === 404) {
        clearRoom();
        $('#room-title').textContent = path;
        setStatus('room ' + path + ' is not active', true);
        return;
      }
      failed(error);
      return;
    }
    if (loading !== ticket || state.room !== path) return;
    state.table = data.table;
    if (data.total > 0 && data.offset >= data.total) {
      // The page emptied under us (rows deleted): go to the last page.
      state.offset = Math.max(0, Math.floor((data.total - 1) / PAGE) * PAGE);
      loadRoom();
      return;
    }
    renderRoom(data);
  }

  function renderRoom(data) {
    $('#room-title').textContent = state.room;
    const tabs = $('#table-tabs');
    clear(tabs);
    for (const table of data.tables) {
      const tab = el('button', { type: 'button', 'data-table': table.id }, table.id + ' (' + table.rows + ')');
      tab.classList.toggle('selected', table.id === data.table);
      tab.addEventListener('click', () => {
        if (state.table === table.id) return;
        state.table = table.id;
        state.offset = 0;
        loadRoom();
      });
      tabs.appendChild(tab);
    }

    const tables = $('#tables');
    clear(tables);
    for (const table of data.tables) {
      const section = el('section', { class: 'table', 'data-table': table.id });
      if (table.id !== data.table) {
        section.hidden = true;
        tables.appendChild(section);
        continue;
      }
      const grid = el('table');
      const head = el('thead');
      const headRow = el('tr');
      headRow.appendChild(el('th', { class: 'row-id' }, 'row id'));
      for (const cellId of data.cellIds) headRow.appendChild(el('th', {}, cellId));
      head.appendChild(headRow);
      grid.appendChild(head);
      const body = el('tbody');
      for (const row of data.rows) {
        const tr = el('tr', { 'data-row': row.id });
        tr.appendChild(el('td', { class: 'row-id' }, row.id));
        for (const cellId of data.cellIds) {
          const stamp = row.cells[cellId];
          if (!stamp) {
            tr.appendChild(el('td', { class: 'absent' }));
            continue;
          }
          const td = el('td', { 'data-cell': cellId, title: stampTitle(stamp) }, display(stamp.value));
          td.addEventListener('dblclick', () =>
            edit(td, stamp.value, { table: data.table, row: row.id, cell: cellId }),
          );
          tr.appendChild(td);
        }
        body.appendChild(tr);
      }
      if (!data.rows.length) {
        const tr = el('tr');
        tr.appendChild(el('td', { class: 'empty', colspan: String(data.cellIds.length + 1) }, 'no rows'));
        body.appendChild(tr);
      }
      grid.appendChild(body);
      section.appendChild(grid);
      tables.appendChild(section);
    }
    if (!data.tables.length) tables.appendChild(el('p', { class: 'empty' }, 'no tables'));

    const from = data.total ? data.offset + 1 : 0;
    const to = data.offset + data.rows.length;
    $('.page-info').textContent = from + '–' + to + ' of ' + data.total;
    $('.pager .prev').disabled = data.offset <= 0;
    $('.pager .next').disabled = to >= data.total;

    const values = $('#values tbody');
    clear(values);
    for (const [valueId, stamp] of Object.entries(data.values)) {
      const tr = el('tr', { 'data-value': valueId });
      tr.appendChild(el('td', { class: 'value-id' }, valueId));
      const td = el('td', { class: 'value', title: stampTitle(stamp) }, display(stamp.value));
      td.addEventListener('dblclick', () => edit(td, stamp.value, { table: '', row: '', cell: valueId }));
      tr.appendChild(td);
      values.appendChild(tr);
    }
  }

  // ---------------------------------------------------------------- edits

  function edit(td, value, target) {
    if (!state.write || state.editing) return;
    state.editing = true;
    const before = td.textContent;
    const input = el('input', { class: 'cell-editor', type: 'text' });
    input.value = JSON.stringify(value);
    td.textContent = '';
    td.appendChild(input);
    input.focus();
    input.select();
    let done = false;
    const finish = (refresh) => {
      if (done) return;
      done = true;
      state.editing = false;
      if (input.parentNode === td) td.removeChild(input);
      td.textContent = before;
      if (refresh || state.pendingRefresh) {
        state.pendingRefresh = false;
        loadRoom();
      }
    };
    input.addEventListener('keydown', async (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        finish(false);
      } else if (event.key === 'Enter') {
        event.preventDefault();
        let parsed;
        try {
          parsed = JSON.parse(input.value);
        } catch (_) {
          parsed = input.value;
        }
        input.disabled = true;
        await save(target, parsed);
        finish(true);
      }
    });
    input.addEventListener('blur', () => {
      if (!input.disabled) finish(false);
    });
  }

  async function save(target, value) {
    try {
      await request(apiUrl('cell'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: state.room, ...target, value, delete: false }),
      });
      setStatus('saved');
    } catch (error) {
      setStatus('refused: ' + (error instanceof HttpError ? error.message : String(error)), true);
    }
  }

  // ---------------------------------------------------------------- live

  function closeEvents() {
    if (state.events) {
      state.events.close();
      state.events = null;
    }
    document.body.dataset.live = 'off';
  }

  let retry = null;

  function openEvents() {
    closeEvents();
    clearTimeout(retry);
    if (state.room === null || state.denied) return;
    const path = state.room;
    const source = new EventSource(apiUrl('events', { path }));
    state.events = source;
    source.onopen = () => {
      if (state.events === source) document.body.dataset.live = 'on';
    };
    source.addEventListener('change', () => {
      // The room list shows the open room's size and last change too.
      if (state.events === source) {
        loadRoom();
        loadRooms();
      }
    });
    source.addEventListener('rooms', () => {
      if (state.events === source) loadRooms();
    });
    source.onerror = () => {
      if (state.events !== source) return;
      // Reconnect ourselves (with a pause), so that a room that stopped and came back, or a
      // server that restarted, is followed again; and refresh what may have been missed.
      closeEvents();
      retry = setTimeout(() => {
        if (state.room === path && !state.denied) {
          loadRooms();
          loadRoom();
          openEvents();
        }
      }, 2000);
    };
  }

  // ---------------------------------------------------------------- controls

  $('.pager .prev').addEventListener('click', () => {
    state.offset = Math.max(0, state.offset - PAGE);
    loadRoom();
  });
  $('.pager .next').addEventListener('click', () => {
    state.offset += PAGE;
    loadRoom();
  });

  let searchTimer = null;
  $('#row-search').addEventListener('input', (event) => {
    clearTimeout(searchTimer);
    const text = event.target.value;
    searchTimer = setTimeout(() => {
      state.search = text;
      state.offset = 0;
      loadRoom();
    }, 250);
  });

  window.addEventListener('hashchange', () => {
    const path = roomFromHash();
    if (path !== null) openRoom(path);
  });

  // Without a room open there is no event stream: the room list is polled instead.
  setInterval(() => {
    if (state.room === null && !state.denied) loadRooms();
  }, 5000);

  (async () => {
    await loadRooms();
    const path = roomFromHash();
    if (path !== null && !state.denied) openRoom(path);
  })();
})();
