import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  command,
  exchange,
  launchChromium,
  NodeRelay,
  openPage,
  type PeerHandle,
  PLAIN_HOST_CANDIDATES,
  statusOf,
  waitFor,
} from '../support/browser-driver.js';
import type { PeerStatus } from '../support/browser-page.js';

/**
 * The negotiation scenario of test/real/negotiation.real.test.ts in real
 * Chromium: glare on data channels, messages both ways, a simultaneous ICE
 * restart, messages again. rtcpool is bundled for the browser and served,
 * with a page hosting the harness, from a loopback server: Chromium's
 * local-network-access checks refuse loopback requests from about:blank.
 */

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>rtcpool negotiation</title>
<script type="module" src="/harness.js"></script>
`;

let server: Server | undefined;
let origin = '';

beforeAll(async () => {
  const { build } = await import('esbuild');
  const fromRoot = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
  const browserBundle = { bundle: true, format: 'esm', platform: 'browser', write: false } as const;
  const [library, harness] = await Promise.all([
    build({ ...browserBundle, entryPoints: [fromRoot('src/index.ts')] }),
    build({
      ...browserBundle,
      entryPoints: [fromRoot('test/support/browser-page.ts')],
      // The harness shares the page's one copy of rtcpool instead of bundling its own.
      plugins: [
        {
          name: 'rtcpool-from-page',
          setup: (bundler) =>
            bundler.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: '/rtcpool.js', external: true })),
        },
      ],
    }),
  ]);
  const files = new Map<string, { type: string; body: string }>([
    ['/', { type: 'text/html', body: PAGE }],
    ['/rtcpool.js', { type: 'text/javascript', body: library.outputFiles[0]?.text ?? '' }],
    ['/harness.js', { type: 'text/javascript', body: harness.outputFiles[0]?.text ?? '' }],
  ]);

  const listening = createServer((request, response) => {
    const file = files.get(new URL(request.url ?? '/', 'http://localhost').pathname);
    response.writeHead(file ? 200 : 404, { 'content-type': file?.type ?? 'text/plain', 'cache-control': 'no-store' });
    response.end(file?.body ?? 'not found');
  });
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
});

afterAll(async () => {
  const listening = server;
  if (!listening) return;
  listening.closeAllConnections();
  await new Promise((resolve) => listening.close(resolve));
});

type Sent = { offers: number; answers: number };
const descriptionsSent = (statuses: PeerStatus[]) =>
  statuses.reduce((sum, { sent }) => sum + sent.offers + sent.answers, 0);
const iceConnected = (status: PeerStatus) => ['connected', 'completed'].includes(status.iceConnectionState);

interface ScenarioReport {
  /** SDP descriptions (offers and answers, both directions) to settle the data-channel glare. */
  glareDescriptions: number;
  /** SDP descriptions to settle the simultaneous ICE restart. */
  restartDescriptions: number;
  /** Offers and answers each side sent, for the glare and for the restart. */
  sentBySide: Array<{ polite: boolean; glare: Sent; restart: Sent }>;
  candidates: number;
  connectMs: number;
  restartMs: number;
  final: PeerStatus[];
}

/**
 * Glare on data channels, messages both ways, a simultaneous ICE restart,
 * messages again. Both pipes are held while the peers offer, so each offer is
 * out before the other arrives: the collision is certain, not just likely.
 */
async function glareThenIceRestart(a: PeerHandle, b: PeerHandle): Promise<ScenarioReport> {
  const both = [a, b];
  const started = performance.now();

  await command(both, 'hold');
  await command(both, 'openChannels');
  await waitFor(both, (s) => s.every(({ sent }) => sent.offers === 1), 'both sides to offer');
  await command(both, 'release');
  const connected = await waitFor(
    both,
    (s) =>
      s.every(
        (status) =>
          status.settled &&
          status.connectionState === 'connected' &&
          status.ownChannel === 'open' &&
          status.remoteChannel === 'open',
      ),
    'both sides stable, connected, with both channels open',
  );
  const connectMs = performance.now() - started;
  expect(connected.map(({ errors }) => errors)).toEqual([[], []]);

  await exchange(a, b, 'own', `${a.name}→${b.name} before restart`);
  await exchange(b, a, 'own', `${b.name}→${a.name} before restart`);

  const before = await statusOf(both);
  const restartStarted = performance.now();
  await command(both, 'hold');
  await command(both, 'restartIce');
  await waitFor(
    both,
    (s) => s.every(({ sent }, i) => sent.offers === (before[i]?.sent.offers ?? 0) + 1),
    'both sides to offer an ICE restart',
  );
  await command(both, 'release');
  const restarted = await waitFor(
    both,
    (s) =>
      s.every((status, i) => status.settled && status.localUfrag !== before[i]?.localUfrag && iceConnected(status)),
    'new ICE credentials on both sides, ICE connected on them',
  );
  const restartMs = performance.now() - restartStarted;

  await exchange(a, b, 'own', `${a.name}→${b.name} after restart`);
  await exchange(b, a, 'own', `${b.name}→${a.name} after restart`);
  await exchange(b, a, 'remote', `${b.name}→${a.name} over the channel ${a.name} opened`);

  const final = await statusOf(both);
  return {
    glareDescriptions: descriptionsSent(connected),
    restartDescriptions: descriptionsSent(restarted) - descriptionsSent(before),
    sentBySide: restarted.map(({ polite, sent }, i) => {
      const glare = connected[i]?.sent ?? sent;
      return {
        polite,
        glare: { offers: glare.offers, answers: glare.answers },
        restart: { offers: sent.offers - glare.offers, answers: sent.answers - glare.answers },
      };
    }),
    candidates: final.reduce((sum, { sent }) => sum + sent.candidates, 0),
    connectMs: Math.round(connectMs),
    restartMs: Math.round(restartMs),
    final,
  };
}

function expectCleanRun(report: ScenarioReport, pageErrors: string[]): void {
  expect(pageErrors).toEqual([]);
  expect(report.final.map(({ errors }) => errors)).toEqual([[], []]);
  // Glare: both offers, then the polite side's answer to the impolite offer.
  // The polite side's channel rides on the SCTP association that answer sets
  // up, so it needs no round of its own. The restart collides the same way;
  // answering the restart offer renews the polite side's credentials, so its
  // own restart is not offered again.
  expect(report.glareDescriptions).toBe(3);
  expect(report.restartDescriptions).toBe(3);
  const yielding = { offers: 1, answers: 1 };
  const winning = { offers: 1, answers: 0 };
  for (const { polite, glare, restart } of report.sentBySide) {
    expect(glare).toEqual(polite ? yielding : winning);
    expect(restart).toEqual(polite ? yielding : winning);
  }
  for (const status of report.final) {
    expect(status.signalingState).toBe('stable');
    expect(status.connectionState).toBe('connected');
  }
}

/**
 * Reported, not asserted: which ICE generation carries traffic at the end.
 * Chromium's controlling side moves to the new generation's pair, but in
 * about a third of runs the controlled side keeps the old pair selected (for
 * over ten seconds, while it still works), after a one-sided restart as well
 * as a colliding one. That is libwebrtc's choice, not negotiation's.
 */
function summary(report: ScenarioReport): string {
  return [
    `SDP descriptions: ${report.glareDescriptions} for the glare, ${report.restartDescriptions} for the restart`,
    `candidates sent: ${report.candidates}`,
    `connected in ${report.connectMs} ms, restarted in ${report.restartMs} ms`,
    ...report.final.map(
      ({ name, polite, iceStates, localUfrag, transport }) =>
        `${name} (${polite ? 'polite' : 'impolite'}, ICE ${transport.iceRole}): ICE ${iceStates.join('→')}, ` +
        `selected pair ${transport.selectedLocalUfrag}/${transport.selectedRemoteUfrag} ` +
        `(${transport.selectedLocalUfrag === localUfrag ? 'new' : 'OLD'} generation, ${transport.selectedPairChanges} changes)`,
    ),
  ].join('; ');
}

describe('two connections in one page', () => {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
  });

  test.for([true, false])(
    'glare on data channels, then a simultaneous ICE restart (A polite: %s)',
    async (aPolite, { annotate }) => {
      context = await (browser as Browser).newContext();
      const { page, errors } = await openPage(context, `${origin}/`);
      await page.evaluate((aPolite) => {
        window.harness.createPeer('A', aPolite, { to: 'page', peer: 'B' });
        window.harness.createPeer('B', !aPolite, { to: 'page', peer: 'A' });
      }, aPolite);

      const report = await glareThenIceRestart({ page, name: 'A' }, { page, name: 'B' });
      await page.evaluate(() => window.harness.closeAll());

      expectCleanRun(report, errors);
      await annotate(summary(report));
    },
  );
});

describe('two pages in separate browser contexts, signals through Node', () => {
  let browser: Browser | undefined;
  let contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchChromium([PLAIN_HOST_CANDIDATES]);
  });
  afterEach(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    contexts = [];
  });
  afterAll(async () => {
    await browser?.close();
  });

  test.for([true, false])(
    'glare on data channels, then a simultaneous ICE restart (A polite: %s)',
    async (aPolite, { annotate }) => {
      const relay = new NodeRelay();
      const open = async () => {
        const context = await (browser as Browser).newContext();
        contexts.push(context);
        return openPage(context, `${origin}/`, (page) => page.exposeFunction('rtcpoolSignal', relay.carry));
      };
      const [pageA, pageB] = await Promise.all([open(), open()]);
      const a = { page: pageA.page, name: 'A' };
      const b = { page: pageB.page, name: 'B' };
      relay.link(a, b);
      await pageA.page.evaluate((polite) => window.harness.createPeer('A', polite, { to: 'node' }), aPolite);
      await pageB.page.evaluate((polite) => window.harness.createPeer('B', polite, { to: 'node' }), !aPolite);

      const report = await glareThenIceRestart(a, b);
      await Promise.all([pageA, pageB].map(({ page }) => page.evaluate(() => window.harness.closeAll())));

      expectCleanRun(report, [...pageA.errors, ...pageB.errors]);
      expect(relay.failures).toEqual([]);
      // With mDNS hiding off, host candidates carry interface addresses, not `<uuid>.local` names.
      for (const status of report.final) {
        expect(status.hostAddresses.length).toBeGreaterThan(0);
        expect(status.hostAddresses.filter((address) => address.endsWith('.local'))).toEqual([]);
      }
      await annotate(summary(report));
    },
  );
});
