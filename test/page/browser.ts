/**
 * Headless Chromium for the keys-page tests: Debian's /usr/bin/chromium driven by playwright-core,
 * a fresh user-data dir per launch. Outside CI a missing browser skips the browser tests (with a
 * warning); under CI they always run.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether the browser tests run here: always under CI, else only when Chromium is installed. */
export const BROWSER_TESTS_RUN = Boolean(process.env.CI) || existsSync(CHROMIUM_PATH);

if (!BROWSER_TESTS_RUN) {
  process.stderr.write(
    `\nkeys page browser tests DID NOT RUN: ${CHROMIUM_PATH} is missing. Install it with ` + "`apt-get install -y chromium` (CI always runs them).\n\n",
  );
}

/** Jest's describe, or describe.skip when the browser tests cannot run here. */
export const describeInBrowser: jest.Describe = BROWSER_TESTS_RUN ? describe : describe.skip;

/** A fresh browser context; `close()` also removes its user-data dir. */
export async function launch(options: { baseURL: string; width?: number; height?: number }): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "keyward-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    baseURL: options.baseURL,
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    locale: "en-US",
    timezoneId: "UTC",
    colorScheme: "light",
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
