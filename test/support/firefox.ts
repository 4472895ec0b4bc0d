/**
 * Firefox for the browser tests: the Debian `firefox-esr`, headless, driven
 * by puppeteer-core over WebDriver BiDi (Playwright's own Firefox build cannot
 * be downloaded here), behind the same {@link DriverBrowser} interface as
 * Chromium (browser-driver.ts). See reference/webrtc-here.md.
 *
 * Puppeteer gives every launch a fresh temporary profile and deletes it on
 * close; every page gets its own browser context (a BiDi user context).
 */
import { readdirSync, readFileSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { DriverBrowser, DriverPage, PageFunction } from './browser-driver.js';

export const FIREFOX_PATH = '/usr/bin/firefox-esr';

/**
 * Fake camera and microphone without a prompt, host candidates on loopback,
 * with their real addresses rather than mDNS names (as Chromium's
 * `--disable-features=WebRtcHideLocalIpsWithMdns`). Timers in background
 * tabs run as in the foreground: every page but one is a background tab
 * here, and Firefox would clamp their timers to a second (the mesh
 * benchmark's scheduled joins came ~860 ms late); Playwright's Chromium
 * launches with `--disable-background-timer-throttling` for the same reason.
 */
export const FIREFOX_PREFS: Record<string, boolean | number | string> = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'dom.min_background_timeout_value': 4,
  'dom.min_background_timeout_value_without_budget_throttling': 4,
  'dom.timeout.enable_budget_timer_throttling': false,
};

export async function launchFirefox(extraPrefs: Record<string, boolean | number | string> = {}): Promise<Browser> {
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...extraPrefs },
  });
}

/** The system Firefox behind the common interface (fake media is always on: it costs nothing until asked for). */
export async function launchFirefoxDriver(
  extraPrefs: Record<string, boolean | number | string> = {},
): Promise<DriverBrowser> {
  const browser = await launchFirefox(extraPrefs);
  const pid = browser.process()?.pid;
  const version = (await browser.version()).replace('/', ' ');
  return {
    engine: 'firefox',
    version,
    async newPage(options = {}) {
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      if (options.viewport) await page.setViewport(options.viewport);
      return puppeteerPage(page, () => context.close());
    },
    processIds: async () => (pid === undefined ? [] : descendants(pid)),
    close: () => browser.close(),
  };
}

/** `root` and every process below it, from /proc (Linux; elsewhere `root` alone). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [root];
  }
  for (const entry of entries) {
    try {
      // The parent id is the field after the parenthesised command name.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {}
  }
  const found = [root];
  for (let i = 0; i < found.length; i += 1) found.push(...(children.get(found[i] as number) ?? []));
  return found;
}

/** A puppeteer page as a {@link DriverPage}. */
export function puppeteerPage(page: Page, close: () => Promise<void> = () => page.close()): DriverPage {
  const errors: string[] = [];
  page.on('pageerror', (error: unknown) => errors.push(error instanceof Error ? error.message : String(error)));
  const evaluate = <R, A>(fn: PageFunction<A, R>, arg?: A): Promise<R> =>
    page.evaluate(fn as (arg: unknown) => Promise<R>, arg) as Promise<R>;
  return {
    engine: 'firefox',
    errors,
    evaluate,
    async waitForFunction(fn, arg, timeoutMs = 30_000) {
      // Puppeteer's order: the function, the options, then the arguments.
      await page.waitForFunction(fn as (arg: unknown) => unknown, { timeout: timeoutMs, polling: 50 }, arg);
    },
    async exposeFunction(name, fn) {
      await page.exposeFunction(name, fn);
    },
    async addInitScript(fn) {
      await page.evaluateOnNewDocument(fn);
    },
    async addModule(source) {
      await page.addScriptTag({ content: source, type: 'module' });
    },
    async goto(url) {
      await page.goto(url);
    },
    click: (selector) => page.click(selector),
    async fill(selector, text) {
      await page.locator(selector).fill(text);
    },
    async screenshot(path) {
      await page.screenshot({ path: path as `${string}.png` });
    },
    close,
  };
}
