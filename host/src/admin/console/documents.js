'use strict';
// The documents page: search, keyset paging, live refresh of the rows shown, a document's
// detail with its answer and evidence, downloads and retry. Partners' data through textContent
// only. Uses api(), el(), badge(), when() and the error banner from console.js.

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
