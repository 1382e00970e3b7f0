// berth operator console: the nodes sharing this berth's store (GET /api/nodes), refreshed on
// its own timer. Uses api(), el(), badge() and $() of console.js, which loads first.
'use strict';

const NODES_REFRESH_MS = 5000;

function nodeRow(node) {
  const state = el('span');
  badge(state, node.state);
  const name = node.this_node ? node.name + ' (this node)' : node.name;
  const listeners = node.listeners.map(([listener, s]) => listener + ': ' + s).join(', ');
  const differs = node.differs.length ? 'differs: ' + node.differs.join(', ') : 'same';
  return el('tr', { 'data-testid': 'node-row' },
    el('td', {}, name),
    el('td', {}, node.address),
    el('td', {}, node.version),
    el('td', {}, state),
    el('td', { title: differs }, node.fingerprint + (node.differs.length ? ' (differs)' : '')),
    el('td', { class: 'num' }, node.heartbeat_age_seconds.toFixed(1) + ' s ago'),
    el('td', {}, listeners));
}

async function refreshNodes() {
  if (!token() || $('overview').hidden) return;
  let view;
  try {
    view = await api('GET', '/api/nodes');
  } catch (e) {
    // 404: the store is off, and so there are no nodes to show.
    if (e.status === 404) $('nodes-section').hidden = true;
    return;
  }
  $('nodes-section').hidden = false;
  $('node-rows').replaceChildren(...view.nodes.map(nodeRow));
}

setInterval(refreshNodes, NODES_REFRESH_MS);
refreshNodes();
