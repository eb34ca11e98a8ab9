/**
 * A real browser for the ward board's tests: Debian's Chromium (`make deps` installs it), driven
 * headless by puppeteer-core. No browser is ever downloaded: a missing Chromium is an error that
 * says how to install it, never a skipped test. The only file that imports puppeteer-core.
 *
 * puppeteer-core is an ECMAScript module: loaded with import() from this CommonJS project.
 */
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'puppeteer-core' with { 'resolution-mode': 'import' };

export type { Browser, Page };

/** Where Debian installs Chromium (package `chromium`). */
export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`make deps\` (installs Debian's chromium)`);
  const puppeteer = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      // Chromium refuses its sandbox to root (CI containers run as root).
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // /dev/shm is small in containers; the tab would crash drawing a 1080p page.
      '--disable-dev-shm-usage',
      '--disable-gpu',
      // Nothing outside the machine: no updates, no sync, no metrics.
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--metrics-recording-only',
    ],
    // The board is served over HTTPS with the tests' throw-away CA (test/support/pki.ts), which is
    // not in the browser's store: certificate errors are accepted for this browser only.
    acceptInsecureCerts: true,
    protocolTimeout: 120_000,
  });
}

/** Every response body the page received, with its URL (to prove that nothing carried patient data). */
export function recordResponses(page: Page): Array<{ url: string; status: number; body: Promise<string> }> {
  const seen: Array<{ url: string; status: number; body: Promise<string> }> = [];
  page.on('response', (response) => {
    // An event stream never ends: its body is read from the DOM side instead (EventSource sees nothing unsigned).
    const type = response.headers()['content-type'] ?? '';
    const body = type.startsWith('text/event-stream') ? Promise.resolve('') : response.text().catch(() => '');
    seen.push({ url: response.url(), status: response.status(), body });
  });
  return seen;
}
