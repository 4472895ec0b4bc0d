/**
 * Node side of the browser tests: launches a browser and drives the peers
 * that `browser-page.ts` hosts in its pages. Everything crosses
 * `page.evaluate` as plain data; the tests poll peer status rather than sleep.
 *
 * Two drivers sit behind one small interface ({@link DriverBrowser},
 * {@link DriverPage}): Chromium on playwright-core (here) and Firefox on
 * puppeteer-core over WebDriver BiDi (`firefox.ts`). The tests only see the
 * interface, so a scenario runs unchanged in either browser or across both.
 */
import { type Browser, type CDPSession, chromium, type Page } from 'playwright-core';
import type { OutgoingSignal } from '../../src/index.js';
import type { PeerStatus } from './browser-page.js';

/** Which browser a page runs in. */
export type Engine = 'chromium' | 'firefox';

/** A function run in the page: takes one argument of plain data, returns plain data (or a promise of it). */
export type PageFunction<A, R> = (arg: A) => R | Promise<R>;

/**
 * One page, in a browser context of its own (its own storage and, in
 * Chromium, its own renderer). The methods are what the tests use of
 * playwright's and puppeteer's pages, with one argument order: puppeteer's
 * `waitForFunction(fn, options, ...args)` differs from playwright's
 * `waitForFunction(fn, arg, options)`, so neither is exposed as it is.
 */
export interface DriverPage {
  readonly engine: Engine;
  /** Uncaught exceptions in the page, in order. */
  readonly errors: string[];
  evaluate<R>(fn: PageFunction<undefined, R>): Promise<R>;
  evaluate<R, A>(fn: PageFunction<A, R>, arg: A): Promise<R>;
  /** Resolves once `fn(arg)` is truthy in the page; rejects after `timeoutMs`. */
  waitForFunction<A>(fn: PageFunction<A, unknown>, arg: A, timeoutMs?: number): Promise<void>;
  /** Makes `window[name]` call `fn` in Node. Call it before {@link goto}. */
  exposeFunction<A extends unknown[]>(name: string, fn: (...args: A) => unknown): Promise<void>;
  /** Runs `fn` in every document of this page before its own scripts. Call it before {@link goto}. */
  addInitScript(fn: () => void): Promise<void>;
  /** Adds an inline `<script type="module">` with `source` to the current document. */
  addModule(source: string): Promise<void>;
  goto(url: string): Promise<void>;
  /** A real (trusted) click: the page gets a user activation, as from a person. */
  click(selector: string): Promise<void>;
  /** Replaces the text of an input. */
  fill(selector: string, text: string): Promise<void>;
  screenshot(path: string): Promise<void>;
  /** Closes the page and its context. */
  close(): Promise<void>;
}

export interface DriverBrowser {
  readonly engine: Engine;
  /** E.g. `chromium 140.0.7339.185`, `firefox 140.5.0esr`. */
  readonly version: string;
  /** A new page in a new browser context. */
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<DriverPage>;
  /** The ids of the browser's processes now (browser, renderers or content processes, GPU, network), for CPU time. */
  processIds(): Promise<number[]>;
  close(): Promise<void>;
}

/** Flags that let the Debian Chromium run headless as root on these machines (see reference/webrtc-here.md). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Host candidates carry interface addresses instead of `<uuid>.local` mDNS
 * names. Pages in separate contexts connect either way, but faster with this.
 */
export const PLAIN_HOST_CANDIDATES = '--disable-features=WebRtcHideLocalIpsWithMdns';

/** Fake camera, microphone and screen, picked without a prompt. */
export const FAKE_MEDIA = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];

/** Launches the system Chromium; Playwright gives it a fresh temporary profile and deletes it on close. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** The system Chromium behind the common interface: plain host candidates, and fake media with `media`. */
export async function launchChromiumDriver(options: { media?: boolean } = {}): Promise<DriverBrowser> {
  const browser = await launchChromium([PLAIN_HOST_CANDIDATES, ...(options.media ? FAKE_MEDIA : [])]);
  let session: CDPSession | undefined;
  return {
    engine: 'chromium',
    version: `chromium ${browser.version()}`,
    async newPage(pageOptions = {}) {
      const context = await browser.newContext(pageOptions.viewport ? { viewport: pageOptions.viewport } : {});
      const page = await context.newPage();
      return playwrightPage(page, () => context.close());
    },
    async processIds() {
      session ??= await browser.newBrowserCDPSession();
      const { processInfo } = (await session.send('SystemInfo.getProcessInfo')) as { processInfo: { id: number }[] };
      return processInfo.map(({ id }) => id);
    },
    close: () => browser.close(),
  };
}

/** A playwright page (Chromium) as a {@link DriverPage}; `close` ends what the page lives in. */
export function playwrightPage(page: Page, close: () => Promise<void> = () => page.close()): DriverPage {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const evaluate = <R, A>(fn: PageFunction<A, R>, arg?: A): Promise<R> =>
    page.evaluate(fn as (arg: unknown) => R | Promise<R> as never, arg as never) as Promise<R>;
  return {
    engine: 'chromium',
    errors,
    evaluate,
    async waitForFunction(fn, arg, timeoutMs = 30_000) {
      await page.waitForFunction(fn as never, arg as never, { timeout: timeoutMs });
    },
    async exposeFunction(name, fn) {
      await page.exposeFunction(name, fn);
    },
    async addInitScript(fn) {
      await page.addInitScript(fn);
    },
    async addModule(source) {
      await page.addScriptTag({ content: source, type: 'module' });
    },
    async goto(url) {
      await page.goto(url);
    },
    click: (selector) => page.click(selector),
    fill: (selector, text) => page.fill(selector, text),
    async screenshot(path) {
      await page.screenshot({ path });
    },
    close,
  };
}

/** One peer (connection plus negotiation actor) living in a page. */
export interface PeerHandle {
  page: DriverPage;
  name: string;
}

/** Opens the harness page at `url` in a new context; `beforeLoad` may expose functions to it. */
export async function openPage(
  browser: DriverBrowser,
  url: string,
  beforeLoad?: (page: DriverPage) => Promise<unknown>,
): Promise<DriverPage> {
  const page = await browser.newPage();
  await beforeLoad?.(page);
  await page.goto(url);
  await page.waitForFunction(() => window.harness !== undefined, undefined);
  return page;
}

export type PeerCommand = 'hold' | 'release' | 'openChannels' | 'restartIce' | 'failNextAnswer';

/** Runs a command for several peers: one call per page, so peers sharing a page act in the same task. */
export async function command(peers: PeerHandle[], name: PeerCommand): Promise<void> {
  await Promise.all(
    [...byPage(peers)].map(([page, names]) =>
      page.evaluate(({ name, names }) => window.harness[name](names), { name, names }),
    ),
  );
}

export async function statusOf(peers: PeerHandle[]): Promise<PeerStatus[]> {
  const found = new Map<string, PeerStatus>();
  await Promise.all(
    [...byPage(peers)].map(async ([page, names]) => {
      for (const status of await page.evaluate((names) => window.harness.status(names), names)) {
        found.set(status.name, status);
      }
    }),
  );
  return peers.map(({ name }) => found.get(name) as PeerStatus);
}

function byPage(peers: PeerHandle[]): Map<DriverPage, string[]> {
  const grouped = new Map<DriverPage, string[]>();
  for (const { page, name } of peers) grouped.set(page, [...(grouped.get(page) ?? []), name]);
  return grouped;
}

/** Polls `read` until `condition` holds; returns the value that satisfied it. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  condition: (value: T) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (condition(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Polls the peers' status until `condition` holds; returns the status that satisfied it. */
export function waitFor(
  peers: PeerHandle[],
  condition: (statuses: PeerStatus[]) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<PeerStatus[]> {
  return pollUntil(() => statusOf(peers), condition, what, timeoutMs);
}

/** Sends `text` on one of `from`'s channels and waits until `to` has received it. */
export async function exchange(
  from: PeerHandle,
  to: PeerHandle,
  channel: 'own' | 'remote',
  text: string,
): Promise<void> {
  await from.page.evaluate(({ name, channel, text }) => window.harness.send(name, channel, text), {
    name: from.name,
    channel,
    text,
  });
  await waitFor([to], ([status]) => status?.received.includes(text) === true, `"${text}" to arrive at ${to.name}`);
}

/**
 * Carries signals between peers in different pages through this process, in
 * order per direction: each delivery waits for the one before it. Pages call
 * it through `window.rtcpoolSignal` (`page.exposeFunction`).
 */
export class NodeRelay {
  /** Deliveries that failed while the pair was live. */
  readonly failures: unknown[] = [];
  /** Signals sent after `close()`: trickle (or a late restart) of a pair being torn down, dropped. */
  droppedAfterClose = 0;
  private closed = false;
  private readonly peers = new Map<string, PeerHandle>();
  private readonly remoteOf = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();

  link(a: PeerHandle, b: PeerHandle): void {
    this.peers.set(a.name, a).set(b.name, b);
    this.remoteOf.set(a.name, b.name).set(b.name, a.name);
  }

  /**
   * The scenario is over and the peers are about to close: what is still in
   * flight, or sent from now on, may find its peer gone, and is no failure.
   */
  close(): void {
    this.closed = true;
  }

  readonly carry = (from: string, signal: OutgoingSignal): void => {
    if (this.closed) {
      this.droppedAfterClose += 1;
      return;
    }
    const to = this.peers.get(this.remoteOf.get(from) ?? '');
    if (!to) {
      this.failures.push(new Error(`no peer linked to ${from}`));
      return;
    }
    const deliver = () =>
      to.page.evaluate(({ name, signal }) => window.harness.deliver(name, signal), { name: to.name, signal });
    const previous = this.chains.get(from) ?? Promise.resolve();
    this.chains.set(
      from,
      previous.then(deliver).catch((error: unknown) => {
        if (!this.closed) this.failures.push(error);
      }),
    );
  };
}
