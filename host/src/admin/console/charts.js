// berth operator console: traffic at a glance. One chart per listener of the documents it
// received per minute (last hour or last 24 hours, from /api/traffic, counted by the store so
// the history survives restarts), failures and answers other than `processed` marked, and the
// listener's last document. Drawn by uPlot (vendor/uplot, served by berth itself).
// Uses the helpers of console.js ($, api, el, token, showError, clearError, when), which runs
// initCharts() and refreshTraffic().
'use strict';

const TRAFFIC_REFRESH_MS = 15000;
const CHART_HEIGHT = 140;
const COLORS = { documents: '#1f5fbf', failed: '#b42318', unusual: '#c77700' };

let trafficHours = 1;
// Listener name → { card, plot, summary, last, holder }: cards are kept and updated in place.
const trafficCards = new Map();
let refreshingTraffic = false;

async function refreshTraffic() {
  if (!token() || $('overview').hidden || refreshingTraffic) return;
  refreshingTraffic = true;
  try {
    renderTraffic(await api('GET', '/api/traffic?hours=' + trafficHours));
    clearError('traffic');
  } catch (e) {
    if (e.status === 409) {
      // The message store is off (store.enabled: false): nothing to chart, and no error either.
      forgetTraffic();
      $('traffic-empty').textContent = 'No traffic to show: the message store is off.';
      $('traffic-empty').hidden = false;
    } else {
      showError(e, 'traffic');
    }
  } finally {
    refreshingTraffic = false;
  }
}

function renderTraffic(traffic) {
  const names = new Set(traffic.listeners.map((l) => l.name));
  for (const [name, card] of trafficCards) {
    if (!names.has(name)) {
      card.plot.destroy();
      card.card.remove();
      trafficCards.delete(name);
    }
  }
  const holder = $('traffic-charts');
  for (const listener of traffic.listeners) {
    const card = trafficCard(listener.name, traffic.times.length);
    holder.append(card.card); // keeps the API's order
    drawListener(card, traffic, listener);
  }
  $('traffic-empty').textContent = 'No listeners.';
  $('traffic-empty').hidden = traffic.listeners.length > 0;
}

// Zero minutes draw no marker: a failure or an unusual answer is a point only where one was.
const marks = (counts) => counts.map((n) => (n > 0 ? n : null));

function drawListener(card, traffic, listener) {
  const data = [traffic.times, listener.documents, marks(listener.failed), marks(listener.unusual)];
  // What the chart drew, for tests and for anyone inspecting the page.
  card.card.dataset.points = JSON.stringify({
    times: traffic.times, documents: listener.documents,
    failed: listener.failed, unusual: listener.unusual,
  });
  card.card.dataset.total = String(listener.total);
  card.plot.setData(data);

  const failed = listener.failed.reduce((a, b) => a + b, 0);
  const range = trafficHours === 1 ? 'last hour' : 'last ' + trafficHours + ' hours';
  const parts = [listener.total + ' in the ' + range];
  if (failed) parts.push(failed + ' failed');
  for (const [disposition, count] of Object.entries(listener.dispositions || {})) {
    parts.push(count + ' × ' + disposition);
  }
  card.summary.textContent = parts.join(' · ');
  card.summary.classList.toggle('warn', failed > 0 || Object.keys(listener.dispositions || {}).length > 0);
  const last = listener.last;
  card.last.replaceChildren(last
    ? el('span', null, 'last document ', el('a', {
      href: '#/documents/' + encodeURIComponent(last.id), 'data-testid': 'traffic-last',
      text: when(last.received_at),
    }), last.answer ? ' (' + last.answer + ')' : ' (' + last.state + ')')
    : 'no documents yet');
  card.holder.setAttribute('aria-label', 'Documents per minute received by ' + listener.name +
    ': ' + card.summary.textContent + '; ' + card.last.textContent);
}

function trafficCard(name, points) {
  let card = trafficCards.get(name);
  if (card && card.points === points) return card;
  if (card) {
    // The range changed: a new plot for the new number of minutes.
    card.plot.destroy();
    card.card.remove();
  }
  const holder = el('div', { class: 'chart', role: 'img' });
  const summary = el('span', { class: 'chart-summary', 'data-testid': 'traffic-summary' });
  const last = el('span', { class: 'chart-last' });
  const node = el('article', { class: 'chart-card', 'data-testid': 'traffic-chart', 'data-name': name },
    el('h3', { text: name }), el('p', { class: 'chart-facts' }, summary, last), holder);
  $('traffic-charts').append(node);
  const plot = new uPlot(chartOptions(holder), [[], [], [], []], holder);
  card = { card: node, plot, summary, last, holder, points };
  trafficCards.set(name, card);
  return card;
}

function chartWidth(holder) {
  return Math.max(200, Math.floor(holder.clientWidth || holder.parentNode.clientWidth || 300));
}

function chartOptions(holder) {
  // A failure is a large dot and an unusual answer a small one, so that a minute with both
  // (an AS2 message whose process failed) shows one inside the other.
  const marker = (color, size) => ({
    stroke: color, fill: color, width: 0,
    paths: () => null,
    points: { show: true, size, stroke: color, fill: color },
  });
  return {
    width: chartWidth(holder),
    height: CHART_HEIGHT,
    // The rest of the console shows UTC; the charts follow.
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // Each bar covers its minute, so the axis runs to the end of the last one.
      x: { time: true, range: (u, min, max) => [min, max + 60] },
      y: { range: (u, min, max) => [0, Math.max(1, max)] },
    },
    axes: [
      { stroke: '#5d6677', grid: { stroke: '#eceff3' },
        // 24-hour UTC clock times, as operators read log lines.
        values: (u, splits) => splits.map((t) => new Date(t * 1000).toISOString().slice(11, 16)) },
      { stroke: '#5d6677', grid: { stroke: '#eceff3' }, size: 40,
        // Whole documents only: no 0.5 ticks on a quiet chart.
        incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 100000] },
    ],
    series: [
      {},
      { label: 'documents', stroke: COLORS.documents, fill: 'rgba(31, 95, 191, 0.25)', width: 1,
        paths: uPlot.paths.bars({ size: [0.9, 12], align: 1 }), points: { show: false } },
      { label: 'failed', ...marker(COLORS.failed, 12) },
      { label: 'other answer', ...marker(COLORS.unusual, 6) },
    ],
  };
}

function resizeCharts() {
  for (const card of trafficCards.values()) {
    card.plot.setSize({ width: chartWidth(card.holder), height: CHART_HEIGHT });
  }
}

function chooseRange(hours) {
  trafficHours = hours;
  for (const button of document.querySelectorAll('button.range')) {
    button.setAttribute('aria-pressed', String(Number(button.dataset.hours) === hours));
  }
  refreshTraffic();
}

function forgetTraffic() {
  for (const card of trafficCards.values()) {
    card.plot.destroy();
    card.card.remove();
  }
  trafficCards.clear();
}

function initCharts() {
  for (const button of document.querySelectorAll('button.range')) {
    button.addEventListener('click', () => chooseRange(Number(button.dataset.hours)));
  }
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(resizeCharts, 100);
  });
  setInterval(refreshTraffic, TRAFFIC_REFRESH_MS);
}
