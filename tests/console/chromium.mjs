// One run of Debian's headless chromium for the console's browser tests (drive.mjs, pages.mjs,
// paging.mjs): a throwaway profile, the page's errors collected, a watchdog, and on a failure
// what the page itself showed, so that each script holds only its checks.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// Runs `main(page, pageErrors)` and exits the process: 0 when it passed, 1 otherwise, with
// `NAME: FAILED: ...`. Options:
//   name              the prefix of every line printed
//   limitMs           the watchdog: the whole run fails past it
//   timeoutMs         each page action's timeout
//   viewport          the window's size
//   acceptDownloads   for scripts that download evidence
//   failureScreenshot a file to save the page to when `main` fails
//   after(page)       runs once `main` ended, passed or not (a screenshot for the record)
export async function runInChromium(options, main) {
  const { name } = options;
  const watchdog = setTimeout(() => {
    console.error(`${name}: FAILED: the run took more than ${options.limitMs / 1000} s`);
    process.exit(1);
  }, options.limitMs);
  const profile = mkdtempSync(join(tmpdir(), `berth-${name}-chromium-`));
  let context;
  let failed = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: options.viewport,
      ...(options.acceptDownloads ? { acceptDownloads: true } : {}),
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-proxy-server',
      ],
      timeout: 60000,
    });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(options.timeoutMs);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`${name}: page console error: ` + m.text());
    });
    try {
      await main(page, pageErrors);
    } catch (e) {
      failed = e;
      const shown = await page.getByTestId('error-text').textContent({ timeout: 1000 }).catch(() => '');
      if (shown) console.error(`${name}: the page shows the error: ` + shown);
      if (options.failureScreenshot) {
        await page.screenshot({ path: options.failureScreenshot, fullPage: true }).catch(() => {});
      }
    }
    if (options.after) await options.after(page);
  } catch (e) {
    failed = failed || e;
  } finally {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
  if (failed) {
    console.error(`${name}: FAILED: ` + (failed.stack || failed.message || failed));
    process.exit(1);
  }
  console.log(`${name}: all checks passed`);
}
