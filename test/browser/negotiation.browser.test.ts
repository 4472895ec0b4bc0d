import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  command,
  type DriverBrowser,
  type DriverPage,
  type Engine,
  exchange,
  launchChromiumDriver,
  NodeRelay,
  openPage,
  type PeerHandle,
  statusOf,
  waitFor,
} from '../support/browser-driver.js';
import type { PeerStatus } from '../support/browser-page.js';
import { launchFirefoxDriver } from '../support/firefox.js';

/**
 * The negotiation scenario of test/real/negotiation.real.test.ts in real
 * Chromium and Firefox, and across the two: glare on data channels, messages
 * both ways, a simultaneous ICE restart, messages again. rtcpool is bundled
 * for the browser and served, with a page hosting the harness, from a
 * loopback server: Chromium's local-network-access checks refuse loopback
 * requests from about:blank, and Firefox has no `navigator.mediaDevices`
 * there. One browser of each engine serves the whole file, a new context
 * per page.
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
  /** Chromium with Firefox: the connection state after restarts is reported, not asserted. */
  crossBrowser: boolean;
  /** SDP descriptions (offers and answers, both directions) to settle the data-channel glare. */
  glareDescriptions: number;
  /** SDP descriptions to settle the simultaneous ICE restart. */
  restartDescriptions: number;
  /** Offers and answers each side sent, for the glare and for the restart. */
  sentBySide: Array<{ polite: boolean; glare: Sent; restart: Sent }>;
  /** Offers and answers each side sent for a restart of its own (polite side first), and by the other side. */
  oneSided: OneSided[];
  /** Whether data still flowed both ways at the end (asserted unless a restart broke the path, see below). */
  dataChecked: boolean;
  candidates: number;
  connectMs: number;
  restartMs: number;
  final: PeerStatus[];
}

/**
 * A Chromium ICE restart answered by Firefox while the old path still works
 * loses what Chromium sends from then on (docs/negotiation.md, "Chromium
 * and Firefox"): Chromium nominates a pair of its new local candidate and
 * Firefox's old one, which Firefox's old ICE session answers but never uses.
 * The stacks' defect, seen without rtcpool too: after such a restart the
 * negotiation is asserted, data only from Firefox.
 */
const restartBreaksPath = (offerer: PeerHandle, answerer: PeerHandle) =>
  offerer.page.engine === 'chromium' && answerer.page.engine === 'firefox';

const sentSince = (now: PeerStatus | undefined, before: PeerStatus | undefined): Sent => ({
  offers: (now?.sent.offers ?? 0) - (before?.sent.offers ?? 0),
  answers: (now?.sent.answers ?? 0) - (before?.sent.answers ?? 0),
});

/**
 * Between Chromium and Firefox, what a restart leaves above ICE is the
 * browsers' (docs/negotiation.md, "Chromium and Firefox"): Firefox's DTLS
 * transport was seen to fail after a second restart (1 of 5 runs, ICE
 * connected on the new generation on both sides). There the negotiation and
 * ICE are asserted, and the connection state is reported.
 */
const crossBrowser = (a: PeerHandle, b: PeerHandle) => a.page.engine !== b.page.engine;

/** One side restarts ICE alone: its offer, the other's answer, new credentials on both sides. */
interface OneSided {
  restarter: Sent;
  other: Sent;
  /**
   * The other side's connection (ICE or DTLS) reported `failed` during the
   * phase; its machine then restarts ICE unless a restart is underway. Seen
   * only between Chromium and Firefox (reported), never between two of a kind
   * (asserted).
   */
  otherFailed: boolean;
  /** The same for the restarter's own connection. */
  restarterFailed: boolean;
}

async function oneSidedRestart(restarter: PeerHandle, other: PeerHandle): Promise<OneSided> {
  const pair = [restarter, other];
  const before = await statusOf(pair);
  await command([restarter], 'restartIce');
  // Chromium's restart answered by Firefox: Firefox's new ICE session may stay in checking (the defect above).
  const iceComesBack = !restartBreaksPath(restarter, other);
  const after = await waitFor(
    pair,
    (s) =>
      s.every(
        (status, i) =>
          status.settled &&
          status.localUfrag !== before[i]?.localUfrag &&
          (iceConnected(status) || !iceComesBack) &&
          (status.connectionState === 'connected' || crossBrowser(restarter, other)),
      ),
    `${restarter.name}'s restart: new ICE credentials on both sides${iceComesBack ? ', ICE connected' : ''}${crossBrowser(restarter, other) ? '' : ', connected'}`,
  );
  const failedSince = (now: PeerStatus | undefined, then: PeerStatus | undefined) =>
    (now?.iceStates.slice(then?.iceStates.length ?? 0).includes('failed') ?? false) ||
    (now?.connectionStates.slice(then?.connectionStates.length ?? 0).includes('failed') ?? false);
  return {
    restarter: sentSince(after[0], before[0]),
    other: sentSince(after[1], before[1]),
    otherFailed: failedSince(after[1], before[1]),
    restarterFailed: failedSince(after[0], before[0]),
  };
}

/**
 * Glare on data channels, messages both ways, a simultaneous ICE restart,
 * messages again, then each side restarts ICE on its own. Both pipes are
 * held while the peers offer, so each offer is out before the other
 * arrives: the collision is certain, not just likely.
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
  const [polite, impolite] = connected[0]?.polite ? [a, b] : [b, a];

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
  // The impolite side's restart offer is the one answered; Chromium's, answered by Firefox, may leave Firefox's ICE checking.
  const iceComesBack = !restartBreaksPath(impolite, polite);
  const restarted = await waitFor(
    both,
    (s) =>
      s.every(
        (status, i) =>
          status.settled && status.localUfrag !== before[i]?.localUfrag && (iceConnected(status) || !iceComesBack),
      ),
    `new ICE credentials on both sides${iceComesBack ? ', ICE connected on them' : ''}`,
  );
  const restartMs = performance.now() - restartStarted;

  // The impolite side's restart offer is the one answered.
  let pathIntact = !restartBreaksPath(impolite, polite);
  if (pathIntact) await exchange(impolite, polite, 'own', `${impolite.name}→${polite.name} after restart`);
  await exchange(polite, impolite, 'own', `${polite.name}→${impolite.name} after restart`);
  await exchange(
    polite,
    impolite,
    'remote',
    `${polite.name}→${impolite.name} over the channel ${impolite.name} opened`,
  );

  const oneSided = [await oneSidedRestart(polite, impolite), await oneSidedRestart(impolite, polite)];
  pathIntact &&= !restartBreaksPath(polite, impolite) && !restartBreaksPath(impolite, polite);
  if (pathIntact) {
    await exchange(a, b, 'own', `${a.name}→${b.name} after restarting alone`);
    await exchange(b, a, 'remote', `${b.name}→${a.name} after restarting alone`);
  }

  // A restart's new ICE session may pass through checking after both sides first looked connected: wait it out.
  const final = await waitFor(
    both,
    (s) => s.every((status) => status.settled && (status.connectionState === 'connected' || crossBrowser(a, b))),
    `both sides stable${crossBrowser(a, b) ? '' : ' and connected'} at the end`,
  );
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
    oneSided,
    dataChecked: pathIntact,
    candidates: final.reduce((sum, { sent }) => sum + sent.candidates, 0),
    connectMs: Math.round(connectMs),
    restartMs: Math.round(restartMs),
    final,
    crossBrowser: crossBrowser(a, b),
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
  // A restart on one side alone: exactly its offer and the other's answer, whichever side (and browser) offers.
  // Between Chromium and Firefox the count is bounded instead (reported in the annotation): a connection sometimes
  // fails around a restart (the browsers' defects in docs/negotiation.md) and its machine restarts ICE once more; one
  // more offer was seen in 3 of 15 runs, by either side. The two sides' counts are read a few ms apart, so the last
  // answer may not be counted yet.
  for (const { restarter, other } of report.oneSided) {
    if (!report.crossBrowser) {
      expect({ restarter, other }).toEqual({
        restarter: { offers: 1, answers: 0 },
        other: { offers: 0, answers: 1 },
      });
      continue;
    }
    expect(restarter.offers).toBeGreaterThanOrEqual(1);
    expect(restarter.offers + other.offers).toBeLessThanOrEqual(3);
    expect(other.answers).toBeGreaterThanOrEqual(1);
    expect(restarter.answers + other.answers).toBeLessThanOrEqual(restarter.offers + other.offers);
  }
  const failures = report.oneSided.flatMap(({ otherFailed, restarterFailed }) => [otherFailed, restarterFailed]);
  if (!report.crossBrowser) expect(failures).toEqual([false, false, false, false]);
  for (const status of report.final) {
    expect(status.signalingState).toBe('stable');
    if (!report.crossBrowser) expect(status.connectionState).toBe('connected');
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
    `SDP descriptions: ${report.glareDescriptions} for the glare, ${report.restartDescriptions} for the restart, ` +
      `${report.oneSided.map(({ restarter, other }) => restarter.offers + restarter.answers + other.offers + other.answers).join(' and ')} for each side's own restart` +
      `${report.oneSided.some(({ otherFailed, restarterFailed }) => otherFailed || restarterFailed) ? ' (a connection failed after a restart and restarted again)' : ''}`,
    `data after every restart ${report.dataChecked ? 'checked' : 'not checked (a Chromium restart answered by Firefox)'}`,
    `candidates sent: ${report.candidates}`,
    `connected in ${report.connectMs} ms, restarted in ${report.restartMs} ms`,
    ...report.final.map(
      ({ name, polite, iceStates, connectionStates, localUfrag, transport }) =>
        `${name} (${polite ? 'polite' : 'impolite'}, ICE ${transport.iceRole}): ${connectionStates.join('→')}, ICE ${iceStates.join('→')}, ` +
        `selected pair ${transport.selectedLocalUfrag}/${transport.selectedRemoteUfrag} ` +
        `(${transport.selectedLocalUfrag === localUfrag ? 'new' : 'OLD'} generation, ${transport.selectedPairChanges} changes)`,
    ),
  ].join('; ');
}

/**
 * Runs `scenario`; if it fails, writes what each peer's connection holds
 * (descriptions, the signals in and out, ICE candidate pairs) to
 * test-output/browser/NAME.json before failing.
 */
async function diagnosed<T>(name: string, peers: readonly PeerHandle[], scenario: () => Promise<T>): Promise<T> {
  try {
    return await scenario();
  } catch (error) {
    const dump = await Promise.all(
      peers.map(async ({ page, name }) => ({
        name,
        engine: page.engine,
        ...((await page.evaluate((name) => window.harness.debug(name), name).catch(String)) as object),
      })),
    );
    mkdirSync('test-output/browser', { recursive: true });
    writeFileSync(`test-output/browser/${name}.json`, JSON.stringify(dump, null, 2));
    throw error;
  }
}

const engines: Record<Engine, () => Promise<DriverBrowser>> = {
  chromium: () => launchChromiumDriver(),
  firefox: () => launchFirefoxDriver(),
};
/** One browser of each engine for the whole file, launched when a test first needs it. */
const launched = new Map<Engine, Promise<DriverBrowser>>();
const browserFor = (engine: Engine): Promise<DriverBrowser> => {
  let browser = launched.get(engine);
  if (!browser) {
    browser = engines[engine]();
    launched.set(engine, browser);
  }
  return browser;
};
let openPages: DriverPage[] = [];

afterEach(async () => {
  await Promise.all(openPages.map((page) => page.close()));
  openPages = [];
});
afterAll(async () => {
  await Promise.all([...launched.values()].map(async (browser) => (await browser).close()));
});

async function open(engine: Engine, beforeLoad?: (page: DriverPage) => Promise<unknown>): Promise<DriverPage> {
  const page = await openPage(await browserFor(engine), `${origin}/`, beforeLoad);
  openPages.push(page);
  return page;
}

describe.for<Engine>(['chromium', 'firefox'])('two connections in one %s page', (engine) => {
  test.for([true, false])(
    'glare on data channels, then a simultaneous ICE restart (A polite: %s)',
    async (aPolite, { annotate }) => {
      const page = await open(engine);
      await page.evaluate((aPolite) => {
        window.harness.createPeer('A', aPolite, { to: 'page', peer: 'B' });
        window.harness.createPeer('B', !aPolite, { to: 'page', peer: 'A' });
      }, aPolite);

      const both = [
        { page, name: 'A' },
        { page, name: 'B' },
      ] as const;
      const report = await diagnosed(`page-${engine}-${aPolite}`, both, () => glareThenIceRestart(...both));
      await page.evaluate(() => window.harness.closeAll());

      expectCleanRun(report, page.errors);
      await annotate(summary(report));
    },
  );
});

describe.for<Engine>(['chromium', 'firefox'])('a failed answer in %s', (engine) => {
  // Recovering from a failed answer rolls the remote offer back; Firefox only rolls a remote offer back with
  // setRemoteDescription({ type: 'rollback' }), and without it the machine ended in `failed`. The candidates the
  // offerer trickles meanwhile are moot. (The offerer then waits for its answer, docs/negotiation.md, Errors; Chromium
  // asks to negotiate again after the rollback, so there the side that failed offers next.)
  test('the side whose answer failed returns to stable, reporting that failure only', async () => {
    const page = await open(engine);
    await page.evaluate(() => {
      window.harness.createPeer('X', false, { to: 'page', peer: 'Y' });
      window.harness.createPeer('Y', true, { to: 'page', peer: 'X' });
    });
    const x = { page, name: 'X' };
    const y = { page, name: 'Y' };
    await command([x], 'failNextAnswer');
    await command([y], 'openChannels');
    // Y's candidates, end-of-candidates included (null is its last signal), all delivered to X.
    const [xs, ys] = await waitFor(
      [x, y],
      ([xs, ys]) =>
        xs?.settled === true && ys?.endOfCandidatesSent === true && ys.held === 0 && xs.signalsIn === ys.signalsOut,
      'X back in stable after its answer failed, every candidate of Y delivered',
    );
    expect(xs?.signalingState).toBe('stable');
    expect(xs?.errors).toEqual([expect.stringMatching(/^answer-failed: /)]);
    expect(ys?.errors).toEqual([]);
    expect(page.errors).toEqual([]);
    await page.evaluate(() => window.harness.closeAll());
  });
});

/** Both engines alone, and across them (A in the first engine, B in the second). */
const PAGE_PAIRS: Array<[Engine, Engine]> = [
  ['chromium', 'chromium'],
  ['firefox', 'firefox'],
  ['chromium', 'firefox'],
];

describe.for(PAGE_PAIRS)(
  'two pages (A: %s, B: %s) in separate browser contexts, signals through Node',
  ([engineA, engineB]) => {
    test.for([true, false])(
      'glare on data channels, then a simultaneous ICE restart (A polite: %s)',
      async (aPolite, { annotate }) => {
        const relay = new NodeRelay();
        const expose = (page: DriverPage) => page.exposeFunction('rtcpoolSignal', relay.carry);
        const [pageA, pageB] = await Promise.all([open(engineA, expose), open(engineB, expose)]);
        const a = { page: pageA, name: 'A' };
        const b = { page: pageB, name: 'B' };
        relay.link(a, b);
        await pageA.evaluate((polite) => window.harness.createPeer('A', polite, { to: 'node' }), aPolite);
        await pageB.evaluate((polite) => window.harness.createPeer('B', polite, { to: 'node' }), !aPolite);

        const report = await diagnosed(`pages-${engineA}-${engineB}-${aPolite}`, [a, b], () =>
          glareThenIceRestart(a, b),
        );
        relay.close();
        await Promise.all([pageA, pageB].map((page) => page.evaluate(() => window.harness.closeAll())));

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
  },
);
