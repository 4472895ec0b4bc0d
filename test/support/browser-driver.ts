/**
 * Node side of the browser tests: launches Chromium and drives the peers that
 * `browser-page.ts` hosts in its pages. Everything crosses `page.evaluate` as
 * plain data; the tests poll peer status rather than sleep.
 */
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { OutgoingSignal } from '../../src/index.js';
import type { PeerStatus } from './browser-page.js';

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

/** Launches the system Chromium; Playwright gives it a fresh temporary profile and deletes it on close. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** One peer (connection plus negotiation actor) living in a page. */
export interface PeerHandle {
  page: Page;
  name: string;
}

export interface OpenedPage {
  page: Page;
  /** Uncaught exceptions in the page. */
  errors: string[];
}

/** Opens the harness page at `url`; `beforeLoad` may expose functions to it. */
export async function openPage(
  context: BrowserContext,
  url: string,
  beforeLoad?: (page: Page) => Promise<unknown>,
): Promise<OpenedPage> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await beforeLoad?.(page);
  await page.goto(url);
  await page.waitForFunction(() => window.harness !== undefined);
  return { page, errors };
}

export type PeerCommand = 'hold' | 'release' | 'openChannels' | 'restartIce';

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

function byPage(peers: PeerHandle[]): Map<Page, string[]> {
  const grouped = new Map<Page, string[]>();
  for (const { page, name } of peers) grouped.set(page, [...(grouped.get(page) ?? []), name]);
  return grouped;
}

/** Polls the peers' status until `condition` holds; returns the status that satisfied it. */
export async function waitFor(
  peers: PeerHandle[],
  condition: (statuses: PeerStatus[]) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<PeerStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await statusOf(peers);
    if (condition(statuses)) return statuses;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last status: ${JSON.stringify(statuses)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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
  readonly failures: unknown[] = [];
  private readonly peers = new Map<string, PeerHandle>();
  private readonly remoteOf = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();

  link(a: PeerHandle, b: PeerHandle): void {
    this.peers.set(a.name, a).set(b.name, b);
    this.remoteOf.set(a.name, b.name).set(b.name, a.name);
  }

  readonly carry = (from: string, signal: OutgoingSignal): void => {
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
        this.failures.push(error);
      }),
    );
  };
}
