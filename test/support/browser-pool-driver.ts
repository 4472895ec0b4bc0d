/**
 * Node side of the end-to-end pool tests: opens pages of the test's own
 * `rtcpool serve` in any browser (browser-driver.ts, firefox.ts), gives each
 * the endpoint of `browser-pool-page.ts` and drives it. The pages load
 * rtcpool as users do, from the server's `/rtcpool.js`; the harness is
 * bundled here with that import left to the page.
 */
import { fileURLToPath } from 'node:url';
import type { DriverBrowser, DriverPage } from './browser-driver.js';
import { pollUntil } from './browser-driver.js';
import type { MediaSample, PoolPeerStatus, PoolStatus, VideoCodecs } from './browser-pool-page.js';

/** The harness, bundled for the browser; its `rtcpool` import stays `/rtcpool.js`, the server's build. */
export async function bundlePoolHarness(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./browser-pool-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    plugins: [
      {
        name: 'rtcpool-from-page',
        setup: (bundler) =>
          bundler.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: '/rtcpool.js', external: true })),
      },
    ],
  });
  return result.outputFiles[0]?.text ?? '';
}

/** One endpoint in one page. */
export class PoolPage {
  id = '';

  private constructor(
    readonly page: DriverPage,
    readonly name: string,
  ) {}

  get engine(): DriverPage['engine'] {
    return this.page.engine;
  }

  /**
   * A page of `serverUrl` (the demo page, left idle: it only gives the page
   * its origin) with the harness added, as an endpoint called `name`.
   */
  static async open(browser: DriverBrowser, serverUrl: string, harness: string, name: string): Promise<PoolPage> {
    const page = await browser.newPage();
    await page.goto(serverUrl);
    await page.addModule(harness);
    await page.waitForFunction(() => window.poolHarness !== undefined, undefined);
    await page.evaluate((name) => window.poolHarness.create(name), name);
    return new PoolPage(page, name);
  }

  async join(pool: string, openOnPeer: boolean): Promise<string> {
    this.id = await this.page.evaluate(({ pool, openOnPeer }) => window.poolHarness.join(pool, openOnPeer), {
      pool,
      openOnPeer,
    });
    return this.id;
  }

  leave(): Promise<void> {
    return this.page.evaluate(() => window.poolHarness.leave());
  }

  hold(): Promise<void> {
    return this.page.evaluate(() => window.poolHarness.hold());
  }

  release(): Promise<void> {
    return this.page.evaluate(() => window.poolHarness.release());
  }

  status(): Promise<PoolStatus> {
    return this.page.evaluate(() => window.poolHarness.status());
  }

  /** This endpoint's view of `other`. */
  async peer(other: PoolPage): Promise<PoolPeerStatus | undefined> {
    return (await this.status()).peers.find(({ id }) => id === other.id);
  }

  send(to: PoolPage, label: string, text: string): Promise<void> {
    return this.page.evaluate(({ peer, label, text }) => window.poolHarness.send(peer, label, text), {
      peer: to.id,
      label,
      text,
    });
  }

  startCamera(): Promise<string[]> {
    return this.page.evaluate(() => window.poolHarness.startCamera());
  }

  mute(kind: 'audio' | 'video' | null): Promise<void> {
    return this.page.evaluate((kind) => window.poolHarness.mute(kind), kind);
  }

  unmute(kind: 'audio' | 'video' | null): Promise<void> {
    return this.page.evaluate((kind) => window.poolHarness.unmute(kind), kind);
  }

  burst(count: number, restart: boolean): Promise<void> {
    return this.page.evaluate(({ count, restart }) => window.poolHarness.burst(count, restart), { count, restart });
  }

  restartIce(): Promise<void> {
    return this.page.evaluate(() => window.poolHarness.restartIce());
  }

  /** The video codecs this page's browser can send and receive. */
  videoCodecs(): Promise<VideoCodecs> {
    return this.page.evaluate(() => window.poolHarness.videoCodecs());
  }

  /** The codec of each video stream arriving from `from` (getStats inbound-rtp), e.g. `['video/VP8', 'video/VP8']`. */
  inboundVideoCodecs(from: PoolPage): Promise<string[]> {
    return this.page.evaluate((peer) => window.poolHarness.inboundVideoCodecs(peer), from.id);
  }

  /** The first codec of each video section toward `to` in `to`'s current description (its answer to our offer). */
  answeredVideoCodecs(to: PoolPage): Promise<string[]> {
    return this.page.evaluate((peer) => window.poolHarness.answeredVideoCodecs(peer), to.id);
  }

  /** Drops the codec preferences of every video transceiver sending to `to`, negotiating nothing; how many. */
  clearCodecPreferences(to: PoolPage): Promise<number> {
    return this.page.evaluate((peer) => window.poolHarness.clearCodecPreferences(peer), to.id);
  }

  /** Prefers `mimeType` on every video transceiver sending to `to` and asks for a negotiation; how many it changed. */
  preferCodec(to: PoolPage, mimeType: string): Promise<number> {
    return this.page.evaluate(({ peer, mimeType }) => window.poolHarness.preferCodec(peer, mimeType), {
      peer: to.id,
      mimeType,
    });
  }

  sample(from: PoolPage): Promise<MediaSample> {
    return this.page.evaluate((peer) => window.poolHarness.sample(peer), from.id);
  }

  close(): Promise<void> {
    return this.page.close();
  }
}

/** Both sides' view of each other, once `condition` holds for both (each sees the other). */
export async function waitPair(
  a: PoolPage,
  b: PoolPage,
  condition: (status: PoolPeerStatus, self: PoolPage) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<[PoolPeerStatus, PoolPeerStatus]> {
  const read = async () => Promise.all([a.peer(b), b.peer(a)]);
  const seen = await pollUntil(
    read,
    ([ab, ba]) => ab !== undefined && ba !== undefined && condition(ab, a) && condition(ba, b),
    what,
    timeoutMs,
  );
  return seen as [PoolPeerStatus, PoolPeerStatus];
}

/** What `to` makes of `from`'s media over a short window: live picture or black, sound or silence. */
export interface MediaVerdict {
  /** `live`: new frames arrived and the picture is not black; `frozen`: a picture, but no new frame; `none`: no picture yet. */
  picture: 'live' | 'black' | 'frozen' | 'none';
  sound: 'audible' | 'silent';
  luma: number;
  /** Audio energy per second over the window. */
  energyPerSecond: number;
}

/** Brightest pixel below which a frame counts as black (the demo's threshold). */
const BLACK_LUMA = 24;
/** Audio energy per second: the fake sources give 1e-2 (Firefox) to 1e-1 (Chromium); silence about 1e-7. */
const AUDIBLE = 1e-4;
const SILENT = 1e-5;
/** The shortest window a verdict is drawn over. */
const WINDOW_MS = 600;

/** Samples what `to` receives from `from` over one window (polling, not sleeping blind). */
export async function mediaVerdict(to: PoolPage, from: PoolPage): Promise<MediaVerdict> {
  const first = await to.sample(from);
  let last = first;
  while (last.at - first.at < WINDOW_MS) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await to.sample(from);
  }
  const energyPerSecond = ((last.audioEnergy - first.audioEnergy) * 1000) / (last.at - first.at);
  const frames = last.frames > first.frames;
  return {
    picture: last.videoWidth === 0 ? 'none' : last.luma < BLACK_LUMA ? 'black' : frames ? 'live' : 'frozen',
    sound: energyPerSecond > AUDIBLE ? 'audible' : 'silent',
    luma: last.luma,
    energyPerSecond,
  };
}

/** Waits until `to` sees `from`'s media as `expected` (silence: below the silent threshold, not merely quiet). */
export function waitForMedia(
  to: PoolPage,
  from: PoolPage,
  expected: { picture: MediaVerdict['picture']; sound: MediaVerdict['sound'] },
  timeoutMs = 30_000,
): Promise<MediaVerdict> {
  return pollUntil(
    () => mediaVerdict(to, from),
    (verdict) =>
      verdict.picture === expected.picture &&
      verdict.sound === expected.sound &&
      (expected.sound === 'audible' || verdict.energyPerSecond < SILENT),
    `${to.name} (${to.engine}) to see ${from.name}'s (${from.engine}) picture ${expected.picture}, sound ${expected.sound}`,
    timeoutMs,
  );
}
