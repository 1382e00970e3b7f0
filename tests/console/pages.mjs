// Drives the console's pages in Debian's headless chromium for tests/tests/console_pages.rs:
// the traffic charts (reading back the data each chart drew), the partners and certificates
// page, a document's evidence downloads, the keyboard alone, and both screen widths.
//
//   node tests/console/pages.mjs ADMIN_URL TOKEN DOCUMENT_ID OUT_DIR
//
// DOCUMENT_ID is an AS2 document whose payload and MDN to download. Writes to OUT_DIR the
// screenshots (overview-1280.png, overview-390.png, partners-..., document-...), the downloads
// (payload.bin, answer.mdn) and result.json: what the page showed, for the Rust side to compare
// with what was sent. Exits 0 when every check made here passed; prints each step.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInChromium } from './chromium.mjs';

const [adminUrl, token, documentId, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node pages.mjs ADMIN_URL TOKEN DOCUMENT_ID OUT_DIR');
  process.exit(2);
}
const TIMEOUT_MS = 15000;
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
const step = (text) => console.log('pages: ' + text);
const check = (condition, message) => {
  if (!condition) throw new Error(message);
};


// What the charts drew, by listener, as the page keeps it on each chart's card.
async function chartData(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid="traffic-chart"]')]
    .map((card) => [card.dataset.name, {
      ...JSON.parse(card.dataset.points),
      summary: card.querySelector('[data-testid="traffic-summary"]').textContent,
      last: card.querySelector('.chart-last').textContent,
      canvas: !!card.querySelector('canvas'),
    }])));
}

async function waitFor(what, probe) {
  const deadline = Date.now() + TIMEOUT_MS;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting for ' + what);
}

// Every control has a name a screen reader reads out, and nothing is wider than the window.
async function checkPage(page, name) {
  const problems = await page.evaluate(() => {
    const out = [];
    const visible = (e) => e.offsetParent !== null || e.getClientRects().length > 0;
    for (const e of document.querySelectorAll('button, a[href], input, select, textarea')) {
      if (!visible(e)) continue;
      const label = e.getAttribute('aria-label') || (e.labels && e.labels.length && e.labels[0].textContent) ||
        e.textContent;
      if (!label || !label.trim()) out.push('no label: ' + e.outerHTML.slice(0, 120));
    }
    const width = document.documentElement.scrollWidth;
    if (width > window.innerWidth) out.push(`the page is ${width} px wide in a ${window.innerWidth} px window`);
    return out;
  });
  check(problems.length === 0, name + ': ' + problems.join('; '));
}

async function shoot(page, name) {
  for (const [label, size] of [['1280', WIDE], ['390', NARROW]]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(400); // the charts follow the width after a short pause
    await checkPage(page, `${name} at ${label} px`);
    const file = join(outDir, `${name}-${label}.png`);
    await page.screenshot({ path: file, fullPage: true });
    step('screenshot ' + file);
  }
  await page.setViewportSize(WIDE);
}

// Tab until `target` has the focus (at most 60 presses), checking that focus is visible.
async function tabTo(page, target, what) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => {
      const e = document.activeElement;
      const style = getComputedStyle(e);
      return { id: e.id, testid: e.dataset ? e.dataset.testid : '', outline: style.outlineStyle, width: style.outlineWidth };
    });
    if (at.testid === target || at.id === target) {
      check(at.outline !== 'none' && at.width !== '0px', `the focus on ${what} is visible (outline ${at.outline} ${at.width})`);
      step(`${what}: reached by ${i + 1} presses of Tab, focus outline ${at.outline}`);
      return;
    }
  }
  throw new Error(`${what} cannot be reached with Tab`);
}

async function main(page, pageErrors) {
  const result = {};
  step('open the console and enter the token by keyboard');
  await page.goto(adminUrl + '/', { waitUntil: 'load' });
  await page.getByLabel('Admin token', { exact: true }).focus();
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');

  step('the overview charts each listener');
  await waitFor('the charts', async () => (await page.getByTestId('traffic-chart').count()) >= 3);
  result.hour = await chartData(page);
  for (const [name, chart] of Object.entries(result.hour)) {
    check(chart.canvas, `${name}: the chart is drawn`);
    check(chart.times.length === 60 && chart.documents.length === 60, `${name}: 60 minutes in the last hour`);
    step(`${name}: ${chart.summary}; ${chart.last}`);
  }
  await shoot(page, 'overview');

  step('the last 24 hours, by keyboard');
  await page.getByTestId('nav-overview').focus();
  await tabTo(page, 'traffic-24h', 'the "Last 24 hours" button');
  await page.keyboard.press('Enter');
  await waitFor('the 24-hour charts', async () => {
    const data = await chartData(page);
    return Object.values(data).every((c) => c.times.length === 1440) && Object.keys(data).length >= 3;
  });
  check(await page.getByTestId('traffic-24h').getAttribute('aria-pressed') === 'true', 'the button shows it is chosen');
  result.day = await chartData(page);
  await shoot(page, 'overview-24h');

  step('the partners page, by keyboard');
  await page.getByTestId('nav-overview').focus();
  await tabTo(page, 'nav-partners', 'the "Partners and certificates" link');
  await page.keyboard.press('Enter');
  await page.getByTestId('partners-page').waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  await waitFor('the partner rows', async () => (await page.getByTestId('partner-row').count()) > 0);
  await waitFor('the certificate rows', async () => (await page.getByTestId('certificate-row').count()) > 0);
  result.partners = await page.evaluate(() => [...document.querySelectorAll('[data-testid="partner-row"]')].map((r) => ({
    process: r.dataset.process,
    from: r.querySelector('[data-testid="partner-from"]').textContent,
    to: r.querySelector('[data-testid="partner-to"]').textContent,
    urls: [...r.querySelectorAll('[data-testid="partner-urls"] code')].map((c) => c.textContent),
    security: r.querySelector('[data-testid="partner-security"]').textContent,
    last: r.querySelector('[data-testid="partner-last"]').textContent,
    today: r.querySelector('[data-testid="partner-today"]').textContent,
  })));
  result.certificates = await page.evaluate(() => [...document.querySelectorAll('[data-testid="certificate-row"]')].map((r) => ({
    process: r.dataset.process,
    role: r.dataset.role,
    status: r.dataset.status,
    days_left: r.querySelector('[data-testid="certificate-days"]').textContent,
    subject: r.querySelector('[data-testid="certificate-subject"]').textContent,
    highlighted: getComputedStyle(r.querySelector('td')).backgroundColor,
  })));
  await waitFor('the exchanged certificate rows', async () => (await page.getByTestId('exchanged-row').count()) > 0);
  result.exchanged = await page.evaluate(() => [...document.querySelectorAll('[data-testid="exchanged-row"]')].map((r) => ({
    process: r.dataset.process,
    state: r.dataset.state,
    respond_by: r.querySelector('td[data-label="Respond by"]').textContent,
    fingerprint: r.querySelector('td[data-label="SHA-256 fingerprint"]').textContent,
  })));
  await shoot(page, 'partners');

  step('a document\'s evidence: payload and MDN');
  await page.goto(adminUrl + '/#/documents/' + encodeURIComponent(documentId));
  await waitFor('the document', async () => (await page.getByTestId('detail-id').textContent()) === documentId);
  for (const [testid, file] of [['download-payload', 'payload.bin'], ['download-answer', 'answer.mdn']]) {
    const link = page.getByTestId(testid);
    await link.focus();
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    await download.saveAs(join(outDir, file));
    step(`${testid}: saved ${download.suggestedFilename()} as ${file}`);
  }
  await shoot(page, 'document');
  check(pageErrors.length === 0, 'the page raised errors: ' + pageErrors.join('; '));
  writeFileSync(join(outDir, 'result.json'), JSON.stringify(result, null, 2));
}

mkdirSync(outDir, { recursive: true });
await runInChromium(
  {
    name: 'pages',
    limitMs: 150000,
    timeoutMs: TIMEOUT_MS,
    viewport: WIDE,
    acceptDownloads: true,
    failureScreenshot: join(outDir, 'failure.png'),
  },
  main,
);
