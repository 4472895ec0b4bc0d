// @vitest-environment node
/**
 * TURN in Chromium, as users run it: coturn on 127.0.0.1, `rtcpool serve
 * --turn <url>` (the built command, the secret in RTCPOOL_TURN_SECRET) and two
 * Chromium pages in separate browser contexts on its demo page, each making
 * a `Pool` from the served browser build (`/rtcpool.js`) with
 * `iceTransportPolicy: 'relay'` and no ICE servers of its own. They can only
 * connect through coturn, with the credentials the server minted; a message
 * crosses, and each side's selected candidate pair is relay.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { BUILT_CLI, type RunningCli, startCli } from '../cli/cli-process.js';
import { startTurnServer } from '../support/turn-server.js';
import { eventually } from '../support/wait.js';

type Rtcpool = typeof import('../../src/index.js');

/** What each page keeps on `window.turnTest`. */
interface PageState {
  id: string | null;
  received: string[];
  errors: string[];
  /** The selected pair's local and remote candidate types, and the ICE servers the connection was given. */
  stats?: { local?: string; remote?: string; iceServers: RTCIceServer[]; policy?: string };
}

declare global {
  interface Window {
    turnTest?: PageState & { stat(): Promise<void> };
  }
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

beforeAll(() => {
  const built = [BUILT_CLI, join(repoRoot, 'dist/browser/rtcpool.js')];
  if (!built.every(existsSync)) throw new Error('dist/ is missing: run `npm run build` first (npm run test:all does)');
  const sources = readdirSync(join(repoRoot, 'src'), { recursive: true, encoding: 'utf8' }).map((file) =>
    join(repoRoot, 'src', file),
  );
  const newest = Math.max(...sources.map((file) => statSync(file).mtimeMs));
  if (built.some((file) => statSync(file).mtimeMs < newest)) throw new Error('dist/ is older than src/: npm run build');
});

/** In the page: a relay-only Pool from the served build, joined to `pool`, saying hello to each peer. */
async function joinFromPage(page: Page, pool: string): Promise<string> {
  return page.evaluate(async (pool) => {
    // Built at run time: the test's own transform would rewrite an import() written here.
    const load = new Function('url', 'return import(url)') as (url: string) => Promise<Rtcpool>;
    const { Pool, Signalling } = await load('/rtcpool.js');
    const url = new URL('/ws', location.href);
    url.protocol = 'ws:';
    const state: PageState = { id: null, received: [], errors: [] };
    const created = new Pool({ iceTransportPolicy: 'relay' }, new Signalling.websocket(url.href));
    created.events.addEventListener('error', ({ detail }) =>
      state.errors.push(`${detail.error.code}: ${detail.error.message}`),
    );
    created.events.addEventListener('datachannel', ({ detail }) => {
      detail.channel.onmessage = ({ data }) => state.received.push(String(data));
    });
    created.events.addEventListener('peer', async ({ detail: { connection } }) => {
      const channel = await connection.dataChannel('hello');
      channel.send(`hello from ${created.id}`);
    });
    const stat = async () => {
      const [connection] = created.connections;
      if (!connection) return;
      const report = await connection.getStats();
      const found: NonNullable<PageState['stats']> = {
        iceServers: connection.peerConnection.getConfiguration().iceServers ?? [],
      };
      const policy = connection.peerConnection.getConfiguration().iceTransportPolicy;
      if (policy) found.policy = policy;
      report.forEach((entry) => {
        if (entry.type !== 'transport' || !entry.selectedCandidatePairId) return;
        const pair = report.get(entry.selectedCandidatePairId);
        found.local = report.get(pair?.localCandidateId)?.candidateType;
        found.remote = report.get(pair?.remoteCandidateId)?.candidateType;
      });
      state.stats = found;
    };
    window.turnTest = Object.assign(state, { stat });
    state.id = await created.join(pool);
    return state.id;
  }, pool);
}

const stateOf = (page: Page) => page.evaluate(() => window.turnTest as PageState);

let browser: Browser;
beforeAll(async () => {
  // The flags Debian's Chromium needs headless as root (reference/webrtc-here.md). Relay candidates only, so no
  // host-candidate flags; launched here rather than through browser-driver.ts, which the Firefox work reshapes.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/** `rtcpool serve --turn <url>` with `secret` in RTCPOOL_TURN_SECRET, and two pages on its demo page. */
async function serveAndOpen(turnUrl: string, secret: string): Promise<{ server: RunningCli; pages: [Page, Page] }> {
  const server = startCli([process.execPath, BUILT_CLI, 'serve', '--port', '0', '--turn', turnUrl], {
    env: { ...process.env, RTCPOOL_TURN_SECRET: secret },
  });
  cleanup.push(() => server.stop());
  const [, demo] = await server.line(/^rtcpool demo: (\S+)$/);
  const pages: Page[] = [];
  for (let i = 0; i < 2; i++) {
    const context = await browser.newContext();
    cleanup.push(() => context.close());
    const page = await context.newPage();
    await page.goto(demo as string);
    pages.push(page);
  }
  return { server, pages: pages as [Page, Page] };
}

test('two Chromium pages with no ICE servers of their own connect through coturn with credentials from rtcpool serve --turn', async () => {
  const coturn = await startTurnServer('chromium-turn-secret');
  const { server, pages } = await serveAndOpen(coturn.turnUrl, coturn.secret);
  const [first, second] = pages;
  const ids = [await joinFromPage(first, 'relayed'), await joinFromPage(second, 'relayed')];
  await eventually(
    async () => (await Promise.all(pages.map(stateOf))).every(({ received }) => received.length === 1),
    'a hello at each page',
    30_000,
  );
  expect((await stateOf(first)).received).toEqual([`hello from ${ids[1]}`]);
  expect((await stateOf(second)).received).toEqual([`hello from ${ids[0]}`]);
  for (const [index, page] of pages.entries()) {
    await page.evaluate(() => window.turnTest?.stat());
    const { stats, errors } = await stateOf(page);
    expect(stats?.local).toBe('relay');
    expect(stats?.remote).toBe('relay');
    expect(stats?.policy).toBe('relay');
    expect(stats?.iceServers).toEqual([
      {
        urls: [coturn.turnUrl],
        username: expect.stringMatching(new RegExp(`^\\d+:${ids[index]}$`)),
        credential: expect.any(String),
      },
    ]);
    expect(errors).toEqual([]);
  }
  expect(coturn.allocations()).toBeGreaterThanOrEqual(2);
  expect(server.lines).toContain(
    `rtcpool turn: ${coturn.turnUrl} (credentials valid 86400 s, secret from RTCPOOL_TURN_SECRET)`,
  );
  expect(`${server.lines.join('\n')}${server.stderr()}`).not.toContain(coturn.secret);
});

test('in Chromium too, a credential coturn refuses is an ice-server-error naming the connection, at once', async () => {
  const coturn = await startTurnServer('chromium-turn-secret');
  const { pages } = await serveAndOpen(coturn.turnUrl, 'not-the-secret');
  const ids = [await joinFromPage(pages[0], 'refused'), await joinFromPage(pages[1], 'refused')];
  await eventually(
    async () => (await Promise.all(pages.map(stateOf))).every(({ errors }) => errors.length > 0),
    'an error at each page',
    10_000,
  );
  for (const [index, page] of pages.entries()) {
    expect((await stateOf(page)).errors).toEqual([
      `ice-server-error: connection to ${ids[1 - index]}: ICE server ${coturn.turnUrl} answered 401 Unauthorized: a wrong or expired TURN credential`,
    ]);
  }
  expect(coturn.allocations()).toBe(0);
});
