'use strict';
// A document's deliveries (asynchronous MDNs): where each goes, where it stands, and every
// attempt with what came of it. Shown through textContent only, like everything partners send.
// Uses el(), badge() and when() from console.js, which calls renderDeliveries().

function renderDeliveries(deliveries) {
  const list = document.getElementById('detail-deliveries');
  const none = document.getElementById('detail-deliveries-none');
  none.hidden = deliveries.length > 0;
  list.replaceChildren(...deliveries.map((d) => {
    const state = el('span', { 'data-testid': 'delivery-state' });
    badge(state, d.state === 'delivered' ? 'processed' : d.state === 'pending' ? 'received' : 'failed');
    state.textContent = d.state;
    const next = d.next_attempt_at ? ' · next attempt ' + when(d.next_attempt_at) : '';
    const attempts = el('ol', { class: 'history', 'data-testid': 'delivery-attempts' },
      ...(d.attempts || []).map((a) => el('li', null,
        el('time', { datetime: a.at, text: when(a.at) }), ' ', a.result)));
    return el('li', { 'data-testid': 'delivery' },
      el('p', null, state, ' ', el('code', { text: d.method + ' ' + d.url }),
        el('span', { class: 'muted', text: ' · queued ' + when(d.created_at) + next })),
      attempts);
  }));
}
