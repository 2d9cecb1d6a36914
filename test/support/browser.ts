/**
 * Debian's Chromium driven by playwright-core, for tests of the web UI in a real browser.
 *
 *   const reason = browserAvailable();              // { ok: false, reason } when /usr/bin/chromium is missing
 *   const b = await startBrowser();                  // headless, closed-network flags, fresh profile
 *   const page = await b.newPage({ width: 1440, height: 900 });   // records console errors
 *   ...; assert.deepEqual(b.consoleErrors, []);
 *   after(() => b.close());
 *
 * `npx playwright install` downloads a browser build and cannot work on a closed network; the
 * Debian package (apt-get install chromium, listed in scripts/packages.extra) is used instead.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.INTSTREAM_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a machine with no network but loopback: no background fetches, no first-run work. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

export type BrowserAvailability = { ok: true; reason?: undefined } | { ok: false; reason: string };

export function browserAvailable(): BrowserAvailability {
  if (!existsSync(CHROMIUM)) return { ok: false, reason: `${CHROMIUM} not found: apt-get install chromium (npm run setup installs it)` };
  return { ok: true };
}

export interface TestBrowser {
  readonly browser: Browser;
  /** Console errors, uncaught page errors and failed requests of every page opened, as text. */
  readonly consoleErrors: string[];
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function startBrowser(): Promise<TestBrowser> {
  // playwright gives the browser a fresh, empty profile in the temp dir and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const context: BrowserContext = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const consoleErrors: string[] = [];
  const watch = (page: Page): void => {
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => {
      // An EventSource closed by the page on purpose, or a navigation away, is not an error.
      const why = r.failure()?.errorText ?? '';
      if (!/ERR_ABORTED/.test(why)) consoleErrors.push(`requestfailed: ${r.url()} ${why}`);
    });
  };
  context.on('page', watch);
  let closed = false;
  return {
    browser,
    consoleErrors,
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      if (closed) return;
      closed = true;
      await context.close().catch(() => {});
      await browser.close().catch(() => {});
    },
  };
}
