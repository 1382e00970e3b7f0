// Pages through the console's document list in Debian's headless chromium for
// tests/tests/console_paging.rs, by keyboard alone: Tab to "Show older documents" and press Enter
// until there is nothing older, while a partner sends a few more documents in between (they
// appear on top by the list's own refresh and shift nothing below).
//
//   node tests/console/paging.mjs ADMIN_URL TOKEN LISTENER_URL OUT_DIR
//
// Writes to OUT_DIR result.json (every row shown, in order: id and File name; the late file
// names sent; how many pages were loaded) for the Rust side to compare with the documents sent,
// and screenshots of the end of the list at 1280 and 390 px. Exits 0 when every check made here
// passed; prints each step.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInChromium } from './chromium.mjs';

const [adminUrl, token, listenerUrl, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node paging.mjs ADMIN_URL TOKEN LISTENER_URL OUT_DIR');
  process.exit(2);
}
const TIMEOUT_MS = 15000;
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 390, height: 844 };
// 250 documents at the console's 50 a page are 5 pages; more presses than that is a loop.
const MAX_PAGES = 20;
const LATE = ['late-0.edi', 'late-1.edi', 'late-2.edi'];
const step = (text) => console.log('paging: ' + text);
const check = (condition, message) => {
  if (!condition) throw new Error(message);
};


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

// The partner's view: a POST from Node, not from the page.
async function post(fileName) {
  const response = await fetch(listenerUrl, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'content-disposition': `attachment; filename="${fileName}"` },
    body: fileName,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  await response.arrayBuffer();
  check(response.ok, `a late document was refused: ${response.status}`);
}

const rows = (page) => page.evaluate(() => [...document.querySelectorAll('[data-testid="document-row"]')]
  .map((r) => ({ id: r.dataset.id, file_name: r.querySelector('[data-testid="document-file-name"]').textContent })));

const focused = (page) => page.evaluate(() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  return { testid: e.dataset ? e.dataset.testid : '', outline: style.outlineStyle, width: style.outlineWidth };
});

// Tab until the "Show older documents" button has the focus, checking that focus is visible.
async function tabToOlder(page) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const at = await focused(page);
    if (at.testid === 'documents-older') {
      check(at.outline !== 'none' && at.width !== '0px', `the focus on the button is visible (outline ${at.outline} ${at.width})`);
      step(`"Show older documents" reached by ${i + 1} presses of Tab`);
      return;
    }
  }
  throw new Error('"Show older documents" cannot be reached with Tab');
}

async function main(page, pageErrors) {
  step('open the console and enter the token by keyboard');
  await page.goto(adminUrl + '/', { waitUntil: 'load' });
  await page.getByLabel('Admin token', { exact: true }).focus();
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  const older = page.getByTestId('documents-older');
  await waitFor('the first page', async () => (await rows(page)).length === 50);
  await older.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  const label = await older.textContent();
  check(label.trim().length > 0, 'the button has a label');

  step('a partner sends more documents while the list is open');
  for (const name of LATE) await post(name);

  // From the last control of the search form, Tab past the rows shown to the button.
  await page.getByTestId('search-clear').focus();
  await tabToOlder(page);
  let pages = 1;
  // The last row before the latest page: the page's first row follows it (rows the refresh
  // adds on top meanwhile shift indexes, not that).
  let lastBefore = null;
  while (await older.isVisible()) {
    check(pages < MAX_PAGES, `still "Show older documents" after ${pages} pages`);
    const shownBefore = await rows(page);
    const before = shownBefore.length;
    const at = await focused(page);
    check(at.testid === 'documents-older', `the focus stays on the button after a page (on ${at.testid || 'nothing'})`);
    lastBefore = shownBefore[before - 1].id;
    await page.keyboard.press('Enter');
    // A page adds rows below, or says there is nothing older; the list's own refresh may add
    // the late documents on top meanwhile.
    await waitFor(`page ${pages + 1}`, async () => (await rows(page)).length > before || !(await older.isVisible()));
    pages += 1;
    step(`page ${pages}: ${(await rows(page)).length} rows shown`);
  }
  // The last page hid the button; the focus went on to the first row it added.
  const end = await page.evaluate(() => {
    const e = document.activeElement;
    const row = e.closest('[data-testid="document-row"]');
    return row ? row.dataset.id : e.tagName;
  });
  const all = await rows(page);
  const expected = all[all.findIndex((r) => r.id === lastBefore) + 1];
  step(`after the last page the focus is on ${end} (${expected.file_name})`);
  check(end === expected.id, `the focus goes to the first row of the last page (${expected.id}), not ${end}`);
  // The late documents come on top by the list's refresh (every 5 s) while it stays open.
  await waitFor('the late documents on top', async () => {
    const names = new Set((await rows(page)).map((r) => r.file_name));
    return LATE.every((n) => names.has(n));
  });
  const shown = await rows(page);
  check(new Set(shown.map((r) => r.id)).size === shown.length, 'no row twice in the list');
  step(`${shown.length} rows after ${pages} pages`);

  // The end of the list, where paging stopped (the whole list is too tall to look at).
  for (const [name, size] of [['1280', WIDE], ['390', NARROW]]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(300);
    await page.getByTestId('document-row').last().scrollIntoViewIfNeeded();
    const file = join(outDir, `documents-${name}.png`);
    await page.screenshot({ path: file });
    step('screenshot ' + file);
  }
  check(pageErrors.length === 0, 'the page raised errors: ' + pageErrors.join('; '));
  writeFileSync(join(outDir, 'result.json'), JSON.stringify({ rows: shown, late: LATE, pages }, null, 2));
}

mkdirSync(outDir, { recursive: true });
await runInChromium(
  {
    name: 'paging',
    limitMs: 120000,
    timeoutMs: TIMEOUT_MS,
    viewport: WIDE,
    failureScreenshot: join(outDir, 'failure.png'),
  },
  main,
);
