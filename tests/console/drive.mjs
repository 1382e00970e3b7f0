// Drives berth's operator console in Debian's headless chromium, as an operator would: enters the
// admin token, pauses a listener by clicking, checks that partners then get 503, resumes it, and
// finds a document by its File Name. Run by tests/tests/console.rs (scripts/console-setup installs
// chromium and playwright-core; playwright-core never downloads a browser of its own).
//
//   node tests/console/drive.mjs ADMIN_URL TOKEN LISTENER_URL PROCESS FILE_NAME
//
// ADMIN_URL is the console (http://127.0.0.1:PORT), LISTENER_URL a URL the process answers POSTs
// on, PROCESS the listener's name (the process name) and FILE_NAME the File Name of a document
// already received. Exits 0 when every check passed; prints each step. Saves a screenshot to
// $BERTH_CONSOLE_SCREENSHOT (default target/console.png) on success and on failure.

import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInChromium } from './chromium.mjs';

const [adminUrl, token, listenerUrl, processName, fileName] = process.argv.slice(2);
if (!fileName) {
  console.error('usage: node drive.mjs ADMIN_URL TOKEN LISTENER_URL PROCESS FILE_NAME');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const screenshot = resolve(process.env.BERTH_CONSOLE_SCREENSHOT || join(here, '../../target/console.png'));
const TIMEOUT_MS = 15000;

const step = (text) => console.log('console: ' + text);

// A whole run never hangs the test: 90 s and it fails.

// The partner's view: a POST from Node, not from the page.
async function post(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  await response.arrayBuffer();
  return response;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main(page, pageErrors) {
  step('open ' + adminUrl);
  await page.goto(adminUrl + '/', { waitUntil: 'load' });
  check((await page.title()).includes('berth'), 'the page at / is not the console: ' + (await page.title()));

  step('enter the token');
  await page.getByLabel('Admin token', { exact: true }).fill(token);
  await page.getByTestId('token-save').click();

  const row = page.locator(`[data-testid="listener-row"][data-name="${processName}"]`);
  const state = row.getByTestId('listener-state');
  await row.waitFor({ timeout: TIMEOUT_MS });
  await waitForText(state, 'listening', 'the listener is listening');
  await waitForText(row.locator('td.urls'), listenerUrl, 'the listener shows the URL partners send to');
  await waitForText(page.getByTestId('status'), 'version', 'the status line shows the version');

  step('click Pause');
  await row.getByRole('button', { name: 'Pause ' + processName, exact: true }).click();
  await waitForText(state, 'paused', 'the listener shows paused');
  check(await row.getByTestId('resume').isEnabled(), 'Resume is enabled on a paused listener');
  check(await page.getByTestId('error').isHidden(), 'no error is shown after pausing');

  const paused = await post(listenerUrl, 'sent while paused');
  step(`a partner POST while paused: ${paused.status}, Retry-After: ${paused.headers.get('retry-after')}`);
  check(paused.status === 503, `a paused listener answers 503, got ${paused.status}`);
  check(paused.headers.get('retry-after'), 'a paused listener sends Retry-After');

  // The state survives the 2 s refresh: it comes from berth, not only from the click's answer.
  await page.waitForTimeout(2500);
  check((await state.textContent()).trim() === 'paused', 'the listener still shows paused after a refresh');

  step('click Resume');
  await row.getByTestId('resume').click();
  await waitForText(state, 'listening', 'the listener shows listening again');
  const resumed = await post(listenerUrl, 'sent after resume');
  step(`a partner POST after resume: ${resumed.status}`);
  check(resumed.status >= 200 && resumed.status < 300, `a resumed listener answers 2xx, got ${resumed.status}`);

  step(`search documents by File Name ${fileName}`);
  await page.getByLabel('Property').fill('file_name');
  await page.getByLabel('Value').fill(fileName);
  await page.getByTestId('search-submit').click();
  const found = page.locator('[data-testid="document-row"]', {
    has: page.locator('[data-testid="document-file-name"]', { hasText: fileName }),
  });
  await found.first().waitFor({ timeout: TIMEOUT_MS });
  const rows = page.getByTestId('document-row');
  check((await rows.count()) === 1, `the search finds exactly one document, got ${await rows.count()}`);
  const id = await found.getAttribute('data-id');
  step(`found document ${id}: ${(await found.innerText()).replace(/\s+/g, ' ')}`);

  step('open the document');
  await found.locator('td').nth(1).click(); // the row, not the link: both open the detail
  const detail = page.getByTestId('document-detail');
  await detail.waitFor({ state: 'visible', timeout: TIMEOUT_MS });
  await waitForText(page.getByTestId('detail-id'), id, 'the detail shows the id');
  check(page.url().endsWith('#/documents/' + encodeURIComponent(id)), 'the URL is the document route: ' + page.url());
  const fileRow = page.locator('#detail-properties tr[data-name="file_name"] td');
  await waitForText(fileRow, fileName, 'the detail shows the File Name property');
  const docState = (await page.getByTestId('detail-state').textContent()).trim();
  const answer = (await page.getByTestId('detail-answer-summary').textContent()).trim();
  const history = await page.getByTestId('detail-history').locator('li').count();
  step(`detail: state ${docState}, answer ${answer}, ${history} history events`);
  check(docState === 'processed', `the document is processed, shows ${docState}`);
  check(answer && answer !== 'none', 'the detail shows the answer sent');
  check(history >= 1, 'the detail shows the history');

  step('download the payload');
  const link = page.getByTestId('download-payload');
  check((await link.getAttribute('href')).endsWith('/' + encodeURIComponent(id) + '/payload'),
    'the payload link points at the API');
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  check(download.suggestedFilename() === fileName,
    `the download is named ${fileName}, got ${download.suggestedFilename()}`);
  const got = readFileSync(await download.path(), 'latin1');
  check(got === process.env.BERTH_CONSOLE_PAYLOAD, 'the downloaded payload is the one sent: ' + JSON.stringify(got));
  check(await page.getByTestId('download-answer').isVisible(), 'the answer can be downloaded');

  step('back to the list: a new document appears by itself');
  await page.getByTestId('back').click();
  await page.getByTestId('search-clear').click();
  const listed = page.getByTestId('document-row');
  await listed.first().waitFor({ timeout: TIMEOUT_MS });
  const before = await listed.count();
  const fresh = await post(listenerUrl, 'sent while the list is open');
  check(fresh.status >= 200 && fresh.status < 300, `the new document is accepted, got ${fresh.status}`);
  const deadline = Date.now() + TIMEOUT_MS;
  while ((await listed.count()) === before && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  check((await listed.count()) === before + 1, `the list grew to ${before + 1} without a click, shows ${await listed.count()}`);
  step(`the list refreshed by itself: ${before} -> ${before + 1} documents`);
  check(pageErrors.length === 0, 'the page raised errors: ' + pageErrors.join('; '));
}

async function waitForText(locator, text, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    last = ((await locator.first().textContent({ timeout: TIMEOUT_MS }).catch(() => '')) || '').trim();
    if (last.includes(text)) {
      step(what + ' (' + last + ')');
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: expected ${JSON.stringify(text)}, shows ${JSON.stringify(last)}`);
}

await runInChromium(
  {
    name: 'console',
    limitMs: 90000,
    timeoutMs: TIMEOUT_MS,
    viewport: { width: 1280, height: 900 },
    // Saved whether the checks passed or not: the page as the operator saw it.
    after: async (page) => {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true }).catch((e) => {
        console.error('console: no screenshot: ' + e.message);
      });
      step('screenshot ' + screenshot);
    },
  },
  main,
);
