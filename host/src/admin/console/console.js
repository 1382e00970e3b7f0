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
