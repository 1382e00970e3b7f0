// berth operator console: the partners and certificates page (#/partners). One row per AS2
// partner pair (/api/partners) and one per certificate or key in use (/api/certificates),
// expired and soon-expiring ones highlighted. Uses the helpers of console.js ($, api, el, token,
// badge, when, showError, clearError), which routes here with showPartners().
'use strict';

const PARTNERS_REFRESH_MS = 15000;

async function showPartners() {
  if (!token() || $('partners').hidden) return;
  try {
    const [partners, certificates] = await Promise.all([
      api('GET', '/api/partners'),
      api('GET', '/api/certificates'),
    ]);
    renderPartners(partners);
    renderCertificates(certificates);
    renderExchanged(certificates);
    clearError('partners');
  } catch (e) {
    showError(e, 'partners');
  }
}

// A cell that also carries its column's name, shown in front of it when the table is stacked
// on a narrow screen.
function cell(label, attrs, ...children) {
  return el('td', { 'data-label': label, ...(attrs || {}) }, ...children);
}

function security(pair) {
  const needed = [];
  if (pair.require_signed) needed.push('signed');
  if (pair.require_encrypted) needed.push('encrypted');
  return needed.length ? needed.join(' and ') : 'none';
}

function lastMessage(pair) {
  const last = pair.last;
  if (!last) return el('span', { class: 'muted', text: 'none yet' });
  const state = el('span');
  badge(state, last.state);
  // The answer when it says more than the state (an MDN's disposition, an HTTP status).
  const answer = last.answer && last.answer !== last.state
    ? el('span', { class: 'badge ' + (pair.last_unusual ? 'state-paused' : 'state-answer'),
      'data-testid': 'partner-disposition', text: last.answer })
    : null;
  return el('span', { class: 'last-message' },
    el('a', { href: '#/documents/' + encodeURIComponent(last.id), text: when(last.received_at) }),
    ' ', state, answer ? ' ' : null, answer);
}

function renderPartners(body) {
  $('partners-today').textContent = 'today is ' + body.today + ' (UTC)';
  const rows = body.partners.map((pair) => el('tr', {
    'data-testid': 'partner-row', 'data-process': pair.process,
    class: pair.last_unusual ? 'warn' : null,
  },
  cell('Process', { class: 'name' }, pair.process, el('div', { class: 'muted', text: pair.connector })),
  cell('Partner (AS2 From)', { 'data-testid': 'partner-from' }, el('code', { text: pair.as2_from })),
  cell('Us (AS2 To)', { 'data-testid': 'partner-to' }, el('code', { text: pair.as2_to })),
  cell('URLs', { class: 'urls', 'data-testid': 'partner-urls' },
    ...pair.urls.map((url) => el('code', { text: url }))),
  cell('Security required', { 'data-testid': 'partner-security', text: security(pair) }),
  cell('Last message', { 'data-testid': 'partner-last' }, lastMessage(pair)),
  cell('Today', { class: 'num', 'data-testid': 'partner-today', text: pair.documents_today ?? '—' })));
  $('partner-rows').replaceChildren(...rows);
  $('partners-empty').hidden = rows.length > 0;
}

function daysLeft(certificate) {
  if (certificate.status === 'unreadable') return 'unreadable';
  const days = certificate.days_left;
  if (days < 0) return 'expired ' + -days + (days === -1 ? ' day' : ' days') + ' ago';
  return String(days);
}

function renderCertificates(body) {
  $('certificates-window').textContent = 'due for renewal within ' + body.warn_days + ' days';
  const rows = body.certificates.map((c) => {
    const status = el('span', { class: 'badge cert-' + c.status, 'data-testid': 'certificate-days', text: daysLeft(c) });
    const files = [el('code', { text: c.file })];
    if (c.key_file) {
      files.push(el('div', null, 'key ', el('code', { text: c.key_file }),
        c.key === 'does not match' ? el('strong', { class: 'bad', text: ' does not match' }) : null));
    }
    return el('tr', {
      'data-testid': 'certificate-row', 'data-process': c.process, 'data-role': c.role,
      'data-status': c.status, 'data-days-left': c.days_left ?? '', class: 'cert-row-' + c.status,
    },
    cell('Days left', { class: 'num' }, status),
    cell('Process', { text: c.process }),
    cell('Role', { text: c.role }),
    cell('Subject', { class: 'subject', 'data-testid': 'certificate-subject', text: c.subject || c.error || '' }),
    cell('Valid until', { text: when(c.not_after) }),
    cell('SHA-256 fingerprint', { class: 'fingerprint' }, el('code', { text: c.fingerprint || '' })),
    cell('Files', { class: 'files' }, ...files));
  });
  $('certificate-rows').replaceChildren(...rows);
  $('certificates-empty').hidden = rows.length > 0;
}

// Certificates partners sent by certificate exchange (the `exchanged` list of /api/certificates).
function renderExchanged(body) {
  const rows = (body.exchanged || []).map((c) => el('tr', {
    'data-testid': 'exchanged-row', 'data-process': c.process, 'data-state': c.state,
  },
  cell('State', null, el('span', { class: 'badge cem-' + c.state, text: c.state })),
  cell('Respond by', { text: when(c.respond_by) }),
  cell('Process', { text: c.process }),
  cell('Partner', { text: c.partner }),
  cell('Usage', { text: c.usages.join(', ') }),
  cell('Subject', { class: 'subject', text: c.subject }),
  cell('SHA-256 fingerprint', { class: 'fingerprint' }, el('code', { text: c.fingerprint })),
  cell('Request', null, el('code', { text: c.request_id }))));
  $('exchanged-rows').replaceChildren(...rows);
  $('exchanged-empty').hidden = rows.length > 0;
}

function forgetPartners() {
  $('partner-rows').replaceChildren();
  $('certificate-rows').replaceChildren();
  $('exchanged-rows').replaceChildren();
}

function initPartners() {
  setInterval(showPartners, PARTNERS_REFRESH_MS);
}
