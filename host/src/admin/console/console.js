// berth operator console: plain JavaScript over the admin API, no framework, no build step.
// Everything partners sent (properties, answers, errors) is shown through textContent only.
'use strict';

const TOKEN_KEY = 'berth.admin.token';
const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

// --- the admin API -------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: 'Bearer ' + token(), Accept: 'application/json' },
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'berth does not answer (' + e.message + ')');
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const reason = body && body.error ? body.error : text || response.statusText;
    if (response.status === 401) {
      throw new ApiError(401, 'The admin token was refused: ' + reason);
    }
    throw new ApiError(response.status, method + ' ' + path + ': ' + response.status + ' ' + reason);
  }
  return body;
}

// --- errors: one banner; an error from the periodic refresh clears itself when it recovers ---

let errorSource = null;

function showError(error, source) {
  errorSource = source || 'action';
  $('error-text').textContent = error instanceof Error ? error.message : String(error);
  $('error').hidden = false;
}

function clearError(source) {
  if (source && errorSource !== source) return;
  errorSource = null;
  $('error').hidden = true;
  $('error-text').textContent = '';
}

// --- small DOM helpers ---------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function badge(node, state) {
  node.textContent = state || '';
  node.className = 'badge state-' + (state || 'none');
}

function when(iso) {
  return iso ? iso.replace('T', ' ') : '';
}

// --- status and listeners ------------------------------------------------------------------

async function refreshStatus() {
  const s = await api('GET', '/api/status');
  const l = s.listeners || {};
  $('status').textContent = 'version ' + s.version + ' · up ' + uptime(s.uptime_seconds) +
    ' · listening ' + (l.listening || 0) + ', paused ' + (l.paused || 0) +
    ', errored ' + (l.errored || 0) + ', stopped ' + (l.stopped || 0);
}

function uptime(seconds) {
  const s = Number(seconds) || 0;
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.floor(s / 60) + ' min';
  if (s < 172800) return Math.floor(s / 3600) + ' h';
  return Math.floor(s / 86400) + ' days';
}

const listenerRows = new Map();

// Rows are kept and updated in place, so a refresh never replaces a button being clicked.
function listenerRow(name) {
  let row = listenerRows.get(name);
  if (row) return row;
  const cells = {
    name: el('td', { class: 'name', text: name, 'data-label': 'Process' }),
    connector: el('td', { 'data-label': 'Connector' }),
    urls: el('td', { class: 'urls', 'data-label': 'URLs' }),
    state: el('span', { 'data-testid': 'listener-state' }),
    documents: el('td', { class: 'num', 'data-testid': 'listener-documents', 'data-label': 'Documents' }),
    errors: el('td', { class: 'num', 'data-testid': 'listener-errors', 'data-label': 'Errors' }),
    error: el('td', { class: 'message', 'data-testid': 'listener-error', 'data-label': 'Last error' }),
  };
  const action = (verb, label) => el('button', {
    type: 'button', 'data-testid': verb, text: label,
    'aria-label': label + ' ' + name, onclick: () => listenerAction(name, verb),
  });
  cells.pause = action('pause', 'Pause');
  cells.resume = action('resume', 'Resume');
  cells.restart = action('restart', 'Restart');
  const tr = el('tr', { 'data-testid': 'listener-row', 'data-name': name },
    cells.name, cells.connector, cells.urls, el('td', { 'data-label': 'State' }, cells.state),
    cells.documents, cells.errors, cells.error,
    el('td', { class: 'row-actions' }, cells.pause, cells.resume, cells.restart));
  row = { tr, cells };
  listenerRows.set(name, row);
  return row;
}

function renderListener(listener) {
  const { tr, cells } = listenerRow(listener.name);
  tr.dataset.state = listener.state;
  cells.connector.textContent = listener.connector +
    (listener.connection ? ' (' + listener.connection + ')' : '');
  cells.urls.replaceChildren(...(listener.urls || []).map((url) => el('code', { text: url })));
  badge(cells.state, listener.state);
  cells.documents.textContent = listener.documents ?? '';
  cells.errors.textContent = listener.errors ?? '';
  const messages = [];
  if (listener.error) {
    messages.push(el('div', { class: 'listener-error', text: listener.error + (listener.error_at ? ' (' + when(listener.error_at) + ')' : '') }));
  }
  if (listener.last_error) {
    messages.push(el('div', { class: 'document-error', text: 'last document: ' + listener.last_error }));
  }
  cells.error.replaceChildren(...messages);
  cells.pause.disabled = listener.state === 'paused' || listener.state === 'stopped';
  cells.resume.disabled = listener.state !== 'paused';
}

function renderListeners(listeners) {
  const names = new Set(listeners.map((l) => l.name));
  for (const [name, row] of listenerRows) {
    if (!names.has(name)) {
      row.tr.remove();
      listenerRows.delete(name);
    }
  }
  const body = $('listener-rows');
  for (const listener of listeners) {
    renderListener(listener);
    body.append(listenerRows.get(listener.name).tr); // keeps the API's order
  }
  $('listeners-empty').hidden = listeners.length > 0;
  const processes = $('search-process');
  const chosen = processes.value;
  const known = [...processes.options].slice(1).map((o) => o.value).join('\n');
  if (known !== listeners.map((l) => l.name).join('\n')) {
    processes.replaceChildren(el('option', { value: '', text: 'any' }),
      ...listeners.map((l) => el('option', { value: l.name, text: l.name })));
    processes.value = chosen;
  }
}

let refreshing = false;

async function refreshListeners() {
  if (!token() || refreshing) return;
  refreshing = true;
  try {
    renderListeners(await api('GET', '/api/listeners'));
    await refreshStatus();
    clearError('refresh');
  } catch (e) {
    showError(e, 'refresh');
  } finally {
    refreshing = false;
  }
}

async function listenerAction(name, verb) {
  try {
    renderListener(await api('POST', '/api/listeners/' + encodeURIComponent(name) + '/' + verb));
    clearError();
    refreshStatus().catch(() => {});
  } catch (e) {
    showError(e);
  }
}

async function allListeners(verb) {
  try {
    renderListeners(await api('POST', '/api/listeners/' + verb));
    clearError();
    refreshStatus().catch(() => {});
  } catch (e) {
    showError(e);
  }
}

// --- documents -----------------------------------------------------------------------------

const DOCUMENTS_REFRESH_MS = 5000;
const PAGE = 50;
// The rows shown, by document id, and where "Show older documents" continues.
const documentRows = new Map();
let olderCursor = null;

function documentsQuery(cursor) {
  const params = new URLSearchParams();
  const value = $('search-value').value.trim();
  const property = $('search-property').value.trim();
  if (value && property) params.append('property', property + '=' + value);
  if ($('search-process').value) params.set('process', $('search-process').value);
  if ($('search-state').value) params.set('state', $('search-state').value);
  if ($('search-since').value) params.set('since', $('search-since').value);
  if ($('search-until').value) params.set('until', $('search-until').value);
  params.set('limit', String(PAGE));
  if (cursor) params.set('cursor', cursor);
  return '/api/documents?' + params.toString();
}

function showOlder(cursor) {
  olderCursor = cursor || null;
  $('documents-older').hidden = !olderCursor;
}

// A new search: the first page, replacing what was shown.
async function searchDocuments() {
  if (!token()) return;
  try {
    const page = await api('GET', documentsQuery());
    documentRows.clear();
    const rows = page.documents.map((doc) => {
      const row = documentRow(doc);
      documentRows.set(doc.id, row);
      return row;
    });
    $('document-rows').replaceChildren(...rows);
    $('documents-empty').hidden = rows.length > 0;
    showOlder(page.next_cursor);
    clearError();
  } catch (e) {
    showError(e);
  }
}

// The next page below the rows shown; the cursor keeps its place while documents arrive or
// leave the filter. The button keeps the focus for the next page; when the last page hides it,
// the focus goes to the first row that page added, so that the keyboard does not lose its place.
async function olderDocuments() {
  if (!olderCursor) return;
  try {
    const page = await api('GET', documentsQuery(olderCursor));
    let first = null;
    for (const doc of page.documents) {
      if (documentRows.has(doc.id)) continue;
      const row = documentRow(doc);
      documentRows.set(doc.id, row);
      $('document-rows').append(row);
      first = first || row;
    }
    const focused = document.activeElement === $('documents-older');
    showOlder(page.next_cursor);
    if (focused && !olderCursor && first) first.querySelector('a').focus();
    clearError();
  } catch (e) {
    showError(e);
  }
}

// While the list is open: new documents appear on top and shown ones update their state,
// without losing the older pages already loaded.
let refreshingDocuments = false;

async function refreshDocuments() {
  if (!token() || !$('detail').hidden || refreshingDocuments) return;
  refreshingDocuments = true;
  try {
    const page = await api('GET', documentsQuery());
    const body = $('document-rows');
    let before = body.firstChild;
    for (const doc of page.documents) {
      const row = documentRow(doc);
      const old = documentRows.get(doc.id);
      documentRows.set(doc.id, row);
      if (old) {
        old.replaceWith(row);
        before = row.nextSibling;
      } else {
        body.insertBefore(row, before);
      }
    }
    if (documentRows.size === page.documents.length) showOlder(page.next_cursor);
    $('documents-empty').hidden = documentRows.size > 0;
    clearError('refresh');
  } catch (e) {
    showError(e, 'refresh');
  } finally {
    refreshingDocuments = false;
  }
}

function documentRow(doc) {
  const href = '#/documents/' + encodeURIComponent(doc.id);
  const state = el('span');
  badge(state, doc.state);
  const props = doc.properties || {};
  return el('tr', {
    class: 'link', 'data-testid': 'document-row', 'data-id': doc.id,
    onclick: (event) => { if (event.target.tagName !== 'A') location.hash = href; },
  },
  el('td', { 'data-label': 'Id' }, el('a', { href, 'data-testid': 'document-link', text: doc.id })),
  el('td', { 'data-label': 'Received', text: when(doc.received_at) }),
  el('td', { 'data-label': 'Process', text: doc.process }),
  el('td', { 'data-label': 'State', title: doc.error || null }, state),
  el('td', { 'data-label': 'File name', 'data-testid': 'document-file-name', text: props.file_name || '' }),
  el('td', { 'data-label': 'Answer', 'data-testid': 'document-answer', text: doc.answer || '' }));
}

const TRACKED = ['as2.from', 'as2.to', 'subject', 'message_id', 'file_name', 'mime_type'];

async function showDocument(id) {
  $('detail').dataset.id = id;
  try {
    renderDocument(await api('GET', '/api/documents/' + encodeURIComponent(id)));
    clearError();
  } catch (e) {
    if (e.status === 404) showError('No document ' + id + ' in the store.');
    else showError(e);
  }
}

function renderDocument(doc) {
  $('detail-id').textContent = doc.id;
  $('detail-process').textContent = doc.process;
  badge($('detail-state'), doc.state);
  $('detail-received').textContent = when(doc.received_at);
  $('detail-size').textContent = doc.payload_bytes === undefined ? '' : doc.payload_bytes + ' bytes';
  $('detail-error').textContent = doc.error || '—';
  $('retry').hidden = doc.state !== 'failed';
  const props = Object.entries(doc.properties || {}).sort(([a], [b]) => {
    const ta = TRACKED.indexOf(a);
    const tb = TRACKED.indexOf(b);
    if (ta !== tb) return (ta < 0 ? 99 : ta) - (tb < 0 ? 99 : tb);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  $('detail-properties').replaceChildren(...props.map(([name, value]) => el('tr',
    { 'data-name': name, class: TRACKED.includes(name) ? 'tracked' : null },
    el('th', { scope: 'row', text: name }), el('td', { text: value }))));
  $('detail-history').replaceChildren(...(doc.history || []).map((h) => el('li', null,
    el('time', { datetime: h.at, text: when(h.at) }), ' ', h.event)));
  const answer = doc.answer;
  $('detail-answer-summary').textContent = answer ? answer.summary : 'none';
  $('detail-answer-summary').className = 'badge state-' + (answer ? 'answer' : 'none');
  $('detail-answer').textContent = answer ? answer.text : '';
  $('detail-answer').hidden = !answer || !answer.text;
  const base = '/api/documents/' + encodeURIComponent(doc.id) + '/';
  $('download-payload').href = base + 'payload';
  $('download-raw').href = base + 'raw';
  $('download-answer').href = base + 'answer';
  $('download-answer').hidden = !answer;
  renderDeliveries(doc.deliveries || []);
}

// The API wants the token in a header, which a plain link cannot send: fetch the file, then
// hand it to the browser under the name berth gives it (Content-Disposition).
async function download(event) {
  event.preventDefault();
  const link = event.currentTarget;
  try {
    const response = await fetch(link.getAttribute('href'), {
      headers: { Authorization: 'Bearer ' + token() },
      cache: 'no-store',
    });
    if (!response.ok) {
      const text = await response.text();
      let reason = text;
      try { reason = JSON.parse(text).error || text; } catch (e) { /* not JSON */ }
      throw new ApiError(response.status, link.textContent + ': ' + reason);
    }
    const disposition = response.headers.get('Content-Disposition') || '';
    const named = /filename="([^"]*)"/.exec(disposition);
    const url = URL.createObjectURL(await response.blob());
    const save = el('a', { href: url, download: named ? named[1] : 'evidence' });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    clearError();
  } catch (e) {
    showError(e);
  }
}

async function retryDocument() {
  const id = $('detail').dataset.id;
  $('retry').disabled = true;
  try {
    renderDocument(await api('POST', '/api/documents/' + encodeURIComponent(id) + '/retry'));
    clearError();
  } catch (e) {
    showError(e);
  } finally {
    $('retry').disabled = false;
  }
}

// --- routing and token ---------------------------------------------------------------------

// A token handed over in the fragment (never sent to the server): keep it, drop it from the URL.
function takeFragmentToken() {
  const preset = /^#token=(.*)$/.exec(location.hash);
  if (!preset) return false;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(preset[1]));
  history.replaceState(null, '', location.pathname + location.search + '#/');
  return true;
}

function route() {
  const match = /^#\/documents\/(.+)$/.exec(location.hash);
  const partners = location.hash === '#/partners';
  $('overview').hidden = !!match || partners;
  $('detail').hidden = !match;
  $('partners').hidden = !partners;
  const current = (link, on) => (on ? link.setAttribute('aria-current', 'page') : link.removeAttribute('aria-current'));
  current($('nav-overview'), !match && !partners);
  current($('nav-partners'), partners);
  if (match) showDocument(decodeURIComponent(match[1]));
  if (partners) showPartners(); // partners.js
  if (!$('overview').hidden) refreshTraffic(); // charts.js
}

function start() {
  $('token').value = token();
  route();
  refreshListeners();
  if ($('detail').hidden) searchDocuments();
}

function askForToken() {
  $('status').textContent = 'Enter the admin token: the content of data/admin.token in the deployment.';
  $('token').focus();
}

function init() {
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    clearError();
    start();
  });
  $('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
    listenerRows.forEach((row) => row.tr.remove());
    listenerRows.clear();
    $('document-rows').replaceChildren();
    documentRows.clear();
    showOlder(null);
    forgetTraffic();
    forgetPartners();
    askForToken();
  });
  $('error-close').addEventListener('click', () => clearError());
  $('pause-all').addEventListener('click', () => allListeners('pause'));
  $('resume-all').addEventListener('click', () => allListeners('resume'));
  $('search').addEventListener('submit', (event) => {
    event.preventDefault();
    searchDocuments();
  });
  $('search-clear').addEventListener('click', () => {
    $('search').reset();
    searchDocuments();
  });
  $('retry').addEventListener('click', retryDocument);
  $('documents-older').addEventListener('click', olderDocuments);
  for (const id of ['download-payload', 'download-raw', 'download-answer']) {
    $(id).addEventListener('click', download);
  }
  window.addEventListener('hashchange', () => {
    if (takeFragmentToken()) return start();
    const fromDetail = !$('detail').hidden;
    route();
    if (fromDetail && $('detail').hidden) searchDocuments();
  });
  initCharts();
  initPartners();
  setInterval(refreshListeners, REFRESH_MS);
  setInterval(refreshDocuments, DOCUMENTS_REFRESH_MS);
  takeFragmentToken();
  if (!token()) {
    askForToken();
  }
  start();
}

init();
