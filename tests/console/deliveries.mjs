// A document's deliveries on the console's document page, in Debian's headless chromium, for
// tests/tests/outbox.rs: opens the document and writes what the page shows of each delivery
// (state, URL, attempts) as JSON on stdout's last line, for the Rust side to compare with
// the store. Saves a screenshot to OUT_DIR/deliveries.png.
//
//   node tests/console/deliveries.mjs ADMIN_URL TOKEN DOCUMENT_ID OUT_DIR

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [adminUrl, token, documentId, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node deliveries.mjs ADMIN_URL TOKEN DOCUMENT_ID OUT_DIR');
  process.exit(2);
}
const TIMEOUT_MS = 15000;
const watchdog = setTimeout(() => {
  console.error('deliveries: FAILED: the run took more than 60 s');
  process.exit(1);
}, 60000);

async function main(page, pageErrors) {
  await page.goto(adminUrl + '/', { waitUntil: 'load' });
  await page.getByLabel('Admin token', { exact: true }).fill(token);
  await page.keyboard.press('Enter');
  await page.goto(adminUrl + '/#/documents/' + encodeURIComponent(documentId));
  await page.getByTestId('delivery').first().waitFor({ timeout: TIMEOUT_MS });
  const shown = await page.getByTestId('delivery').evaluateAll((items) => items.map((li) => ({
    state: li.querySelector('[data-testid="delivery-state"]').textContent,
    text: li.querySelector('p').textContent,
    attempts: [...li.querySelectorAll('[data-testid="delivery-attempts"] li')].map((a) => a.textContent),
  })));
  await page.screenshot({ path: join(outDir, 'deliveries.png'), fullPage: true });
  if (pageErrors.length) throw new Error('the page raised errors: ' + pageErrors.join('; '));
  return shown;
}

mkdirSync(outDir, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'berth-deliveries-chromium-'));
let context;
let code = 0;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-proxy-server',
    ],
    timeout: 60000,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(TIMEOUT_MS);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  console.log(JSON.stringify(await main(page, pageErrors)));
} catch (e) {
  console.error('deliveries: FAILED: ' + e.message);
  code = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(watchdog);
}
process.exit(code);
