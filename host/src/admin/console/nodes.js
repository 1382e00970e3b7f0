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
  // data-label: on a narrow screen each cell stands under its column's name (table.stack).
  return el('tr', { 'data-testid': 'node-row' },
    el('td', { 'data-label': 'Node' }, name),
    el('td', { 'data-label': 'Address' }, node.address),
    el('td', { 'data-label': 'Version' }, node.version),
    el('td', { 'data-label': 'State' }, state),
    el('td', { title: differs, 'data-label': 'Deployment' },
      node.fingerprint + (node.differs.length ? ' (differs)' : '')),
    el('td', { class: 'num', 'data-label': 'Heartbeat' },
      node.heartbeat_age_seconds.toFixed(1) + ' s ago'),
    el('td', { 'data-label': 'Listeners' }, listeners));
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
