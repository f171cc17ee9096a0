/**
 * The admin page: static markup, style and script the gateway serves at `/admin/`, holding no data. The
 * script asks for the admin token once, keeps it in sessionStorage and reads everything through the JSON
 * API with `Authorization: Bearer`, so there are no cookies to forge a request with. Vendor-controlled text
 * (keys, column names, reasons) only ever becomes DOM text nodes, never markup.
 */

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Dropgate admin</title>
<link rel="stylesheet" href="/admin/page.css">
<script src="/admin/page.js" defer></script>
</head>
<body>
<header>
  <h1>Dropgate</h1>
  <span class="subtitle">load history</span>
  <button type="button" id="sign-out" hidden>Forget token</button>
</header>
<main>
  <form id="sign-in" hidden>
    <p>This page reads the gateway's ledger with the admin token (<code>DROPGATE_ADMIN_TOKEN</code>). It is
    kept in this tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</p>
    <label>Admin token <input type="password" id="token" name="token" autocomplete="off" required></label>
    <button type="submit">Open</button>
    <p class="problem" id="sign-in-problem" role="alert"></p>
  </form>
  <section id="history" hidden>
    <form id="filters">
      <label>Key prefix <input name="prefix" id="filter-prefix" placeholder="vendors/acme/"></label>
      <label>Dataset <input name="dataset" id="filter-dataset"></label>
      <label>State
        <select name="state" id="filter-state">
          <option value="">any</option>
          <option>pending</option>
          <option>processing</option>
          <option>ingested</option>
          <option>rejected</option>
          <option>failed</option>
        </select>
      </label>
      <button type="submit">Filter</button>
      <button type="button" id="refresh">Refresh</button>
    </form>
    <p class="problem" id="problem" role="alert"></p>
    <p id="counts" aria-live="polite"></p>
    <table id="files">
      <thead>
        <tr>
          <th>Object key</th><th>Dataset</th><th>State</th><th class="number">Read</th>
          <th class="number">Published</th><th class="number">Rejected</th><th>First errors</th>
          <th>First seen</th><th class="number">Duration</th>
        </tr>
      </thead>
      <tbody></tbody>
    </table>
    <button type="button" id="more" hidden>Load more</button>
  </section>
  <section id="detail" hidden>
    <button type="button" id="back">Back to the list</button>
    <h2 id="detail-key"></h2>
    <p>
      <button type="button" id="replay">Replay the current version</button>
      <span id="replay-status" role="status"></span>
    </p>
    <div id="versions"></div>
  </section>
</main>
</body>
</html>
`;

const style = `
[hidden] { display: none !important; }
:root { font-family: system-ui, sans-serif; font-size: 14px; color: #1d1d1f; background: #fafafa; }
body { margin: 0; }
header { display: flex; align-items: baseline; gap: 1em; padding: 0.8em 1.5em; background: #23395d; color: #fff; }
header h1 { margin: 0; font-size: 1.4em; }
header .subtitle { flex: 1; opacity: 0.8; }
main { padding: 1em 1.5em; }
form { display: flex; flex-wrap: wrap; gap: 0.8em; align-items: end; margin-bottom: 1em; }
form#sign-in { flex-direction: column; align-items: start; max-width: 40em; }
label { display: flex; flex-direction: column; gap: 0.2em; font-size: 0.9em; }
input, select, button { font: inherit; padding: 0.3em 0.5em; }
button { cursor: pointer; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid #ddd; padding: 0.4em 0.5em; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
.number { text-align: right; font-variant-numeric: tabular-nums; }
.key { font-family: ui-monospace, monospace; word-break: break-all; background: none; border: none; color: #0b57d0; text-decoration: underline; padding: 0; text-align: left; }
.state { display: inline-block; padding: 0.1em 0.5em; border-radius: 0.8em; font-size: 0.85em; }
.state-ingested { background: #d9f2df; }
.state-rejected, .state-failed { background: #fbdada; }
.state-processing, .state-pending { background: #fff1c7; }
.errors { margin: 0; padding-left: 1.1em; font-size: 0.9em; }
.problem { color: #a61b1b; min-height: 1em; }
progress { width: 8em; display: block; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dt { font-weight: 600; }
dd { margin: 0; }
.version { background: #fff; border: 1px solid #ddd; padding: 0.5em 1em; margin-bottom: 1em; }
`;

/*
 * Browser script, plain ES2020 in a string: the page has no build step. Everything from the API goes
 * through `node()`, which makes text nodes, so a `<script>` in a key or a reason renders as text.
 */
const script = `'use strict';
(() => {
  const TOKEN = 'dropgate.adminToken';
  const $ = (id) => document.getElementById(id);
  let cursor;
  let rows = [];
  let filters = {};
  let detailKey;
  let refreshTimer;

  /** An element with attributes and children; strings become text nodes, never markup. */
  function node(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'onclick') element.addEventListener('click', value);
      else element.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      element.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    }
    return element;
  }

  const time = (iso) => (iso ? iso.replace('T', ' ').replace(/\\.\\d+Z$/, 'Z') : '');
  const duration = (ms) => (ms === null || ms === undefined ? '' : ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s');
  const token = () => sessionStorage.getItem(TOKEN);

  class Unauthorized extends Error {}

  async function api(method, path, body) {
    const headers = { authorization: 'Bearer ' + token() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (response.status === 401) throw new Unauthorized(answer.error ? answer.error.message : 'unauthorized');
    if (!response.ok) throw new Error(answer.error ? answer.error.code + ': ' + answer.error.message : 'HTTP ' + response.status);
    return answer;
  }

  function signIn(problem) {
    sessionStorage.removeItem(TOKEN);
    clearTimeout(refreshTimer);
    $('history').hidden = true;
    $('detail').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    $('sign-in-problem').textContent = problem || '';
    $('token').focus();
  }

  function failed(error, where) {
    if (error instanceof Unauthorized) signIn('The gateway refused the token: ' + error.message);
    else $(where).textContent = error.message;
  }

  const encodeKey = (key) => key.split('/').map(encodeURIComponent).join('/');

  function errorList(errors) {
    if (!errors.length) return '';
    return node('ul', { class: 'errors' }, errors.map((error) =>
      node('li', {}, 'line ' + error.line + ' (row ' + error.row + '), ' + error.field + ': ' + error.reason)));
  }

  /** Under a file's state: its progress bar while it is ingested, and why it failed or was rejected. */
  function stateDetails(row) {
    const details = [];
    if (row.progress) {
      const { rows: done, expectedRows } = row.progress;
      details.push(expectedRows
        ? node('progress', { max: expectedRows, value: Math.min(done, expectedRows), 'aria-label': 'rows so far' })
        : node('progress', { 'aria-label': 'rows so far' }));
      details.push(node('small', {}, done + (expectedRows ? ' of ' + expectedRows : '') + ' rows so far'));
    }
    if (row.error) details.push(node('div', { class: 'problem' }, row.error.code + ': ' + row.error.message));
    return details;
  }

  const stateCell = (row) =>
    node('td', {}, node('span', { class: 'state state-' + row.state }, row.state), stateDetails(row));

  function fileRow(row) {
    return node('tr', { 'data-key': row.key, 'data-state': row.state },
      node('td', {}, node('button', { type: 'button', class: 'key', onclick: () => showDetail(row.key) }, row.key)),
      node('td', {}, row.dataset),
      stateCell(row),
      node('td', { class: 'number' }, row.rowsRead),
      node('td', { class: 'number' }, row.rowsPublished),
      node('td', { class: 'number' }, row.rowsRejected),
      node('td', {}, errorList(row.firstErrors)),
      node('td', {}, time(row.firstSeenAt)),
      node('td', { class: 'number' }, duration(row.durationMs)));
  }

  function showCounts() {
    const byState = {};
    const totals = { rowsRead: 0, rowsPublished: 0, rowsRejected: 0 };
    for (const row of rows) {
      byState[row.state] = (byState[row.state] || 0) + 1;
      for (const name of Object.keys(totals)) totals[name] += row[name];
    }
    const states = Object.entries(byState).map(([state, count]) => count + ' ' + state).join(', ');
    $('counts').textContent = rows.length
      ? rows.length + ' file version(s) listed' + (cursor ? ' so far' : '') + ': ' + states + '. Rows read ' +
        totals.rowsRead + ', published ' + totals.rowsPublished + ', rejected ' + totals.rowsRejected + '.'
      : 'No file matches.';
  }

  function query(withCursor) {
    const parameters = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) if (value) parameters.set(name, value);
    if (withCursor && cursor) parameters.set('cursor', cursor);
    return '/admin/files?' + parameters;
  }

  async function loadFiles(more) {
    $('problem').textContent = '';
    clearTimeout(refreshTimer);
    try {
      const page = await api('GET', query(more));
      rows = more ? rows.concat(page.files) : page.files;
      cursor = page.cursor;
      $('files').tBodies[0].replaceChildren(...rows.map(fileRow));
      $('more').hidden = !cursor;
      showCounts();
      // Files on their way get fresh numbers every two seconds, while the list is on screen.
      if (!more && rows.some((row) => row.state === 'processing' || row.state === 'pending'))
        refreshTimer = setTimeout(() => { if (!$('history').hidden) loadFiles(false); }, 2000);
    } catch (error) {
      failed(error, 'problem');
    }
  }

  function versionView(row, index) {
    const facts = [
      ['Version', row.version], ['State', row.state], ['Dataset', row.dataset + (row.schemaVersion ? ' v' + row.schemaVersion : '')],
      ['Attempts', row.attempts], ['Replays', row.replays + (row.replayRequested ? ' (one more requested)' : '')],
      ['Rows read', row.rowsRead], ['Rows published', row.rowsPublished], ['Rows rejected', row.rowsRejected],
      ['Reported by', row.via || ''], ['First seen', time(row.firstSeenAt)], ['Started', time(row.startedAt)],
      ['Finished', time(row.finishedAt)], ['Duration', duration(row.durationMs)],
    ];
    const errors = row.firstErrors.length
      ? node('table', { class: 'first-errors' },
          node('thead', {}, node('tr', {}, node('th', {}, 'Line'), node('th', {}, 'Row'), node('th', {}, 'Field'), node('th', {}, 'Reason'))),
          node('tbody', {}, row.firstErrors.map((error) => node('tr', {},
            node('td', { class: 'number' }, error.line), node('td', { class: 'number' }, error.row),
            node('td', {}, error.field), node('td', {}, error.reason)))))
      : node('p', {}, 'No row errors.');
    return node('div', { class: 'version', 'data-version': row.version },
      node('h3', {}, index === 0 ? 'Latest version' : 'Earlier version'),
      node('div', {}, stateDetails(row)),
      node('dl', {}, facts.flatMap(([name, value]) => [node('dt', {}, name), node('dd', { 'data-fact': name }, value)])),
      node('h4', {}, 'First errors'), errors);
  }

  async function showDetail(key) {
    detailKey = key;
    clearTimeout(refreshTimer);
    $('history').hidden = true;
    $('detail').hidden = false;
    $('detail-key').textContent = key;
    $('replay-status').textContent = '';
    await loadDetail();
  }

  async function loadDetail() {
    try {
      const file = await api('GET', '/admin/files/' + encodeKey(detailKey));
      $('versions').replaceChildren(...file.versions.map(versionView));
      if (file.versions.some((row) => row.state === 'processing' || row.state === 'pending' || row.replayRequested))
        refreshTimer = setTimeout(() => { if (!$('detail').hidden) loadDetail(); }, 1000);
    } catch (error) {
      failed(error, 'replay-status');
    }
  }

  async function replay() {
    $('replay-status').textContent = 'Asking for a replay...';
    try {
      const answer = await api('POST', '/admin/replay', { objectKey: detailKey });
      $('replay-status').textContent = 'Replay scheduled for version ' + answer.version + '.';
      clearTimeout(refreshTimer);
      await loadDetail();
    } catch (error) {
      failed(error, 'replay-status');
    }
  }

  function open() {
    $('sign-in').hidden = true;
    $('sign-out').hidden = false;
    $('history').hidden = false;
    $('detail').hidden = true;
    loadFiles(false);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('sign-in').addEventListener('submit', (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN, $('token').value.trim());
      $('token').value = '';
      open();
    });
    $('sign-out').addEventListener('click', () => signIn(''));
    $('filters').addEventListener('submit', (event) => {
      event.preventDefault();
      filters = Object.fromEntries(new FormData($('filters')));
      loadFiles(false);
    });
    $('refresh').addEventListener('click', () => loadFiles(false));
    $('more').addEventListener('click', () => loadFiles(true));
    $('back').addEventListener('click', open);
    $('replay').addEventListener('click', replay);
    if (token()) open();
    else signIn('');
  });
})();
`;

export const adminPage = { html, style, script } as const;
