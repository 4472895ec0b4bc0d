/**
 * One round: N fresh pages of one implementation, each in its own browser
 * context (its own profile; in Chromium its own renderer), joined to a fresh
 * pool at one scheduled moment; it ends when every page has an open channel
 * to every other and the server has been quiet for a while. Page i runs in
 * `browsers[i % browsers.length]`: one browser, or Chromium and Firefox in
 * turn for a mixed pool.
 */
import type { DriverBrowser, DriverPage } from '../../test/support/browser-driver.js';
import type { CpuMeter } from './cpu.js';
import type { PageResult, RunRequest } from './page-common.js';
import { type BenchServer, now } from './server.js';

export type Implementation = 'rtcpool' | 'floor';

/** How long before the scheduled join the request is sent: enough for every page.evaluate to arrive first. */
const START_LEAD_MS = 150;
/** A round that has not meshed by then failed (a benchmark, so no timed assertion otherwise). */
const MESH_TIMEOUT_MS = 20_000;
/** Relays still coming this long after the mesh (a late renegotiation) are counted; then the round ends. */
const QUIET_MS = 300;

export interface RoundOptions {
  implementation: Implementation;
  /** How many pages join the pool. */
  size: number;
  /** Unique per round: the pool's name. */
  name: string;
  /** rtcpool only: which side opens the `bench` channel (see rtcpool-page.ts). */
  open: 'every' | 'newer';
  /** rtcpool only: the pages log every signalling and connection event, shown if a round times out. */
  trace: boolean;
}

export interface RoundResult {
  implementation: Implementation;
  size: number;
  /** From the scheduled join to the last channel open in the last page, ms. */
  meshMs: number;
  /** CPU time of every browser process from just before the join until the round ends, ms. */
  cpuMs: number;
  /** How late the latest page actually sent `rtc:join`, ms after the scheduled moment. */
  joinLatenessMs: number;
  /** `rtc:sdp` messages the server relayed for this pool, until it had been quiet for a while after the mesh. */
  sdp: number;
  /** `rtc:candidate` messages likewise (rtcpool also sends the end-of-candidates null; the floor does not). */
  candidates: number;
  /** What each page reported: its id, offers, answers and opens. */
  pages: PageResult[];
  /** The scheduled join moment on the shared clock. */
  at: number;
  errors: string[];
}

/** How far a page's clock is from Node's, ms, measured over one `page.evaluate` round trip. */
export async function clockOffset(page: DriverPage): Promise<number> {
  const before = now();
  const there = await page.evaluate(() => window.meshBench.now());
  const after = now();
  return there - (before + after) / 2;
}

async function openPage(browser: DriverBrowser, url: string): Promise<DriverPage> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.meshBench !== undefined, undefined);
  await page.evaluate(() => window.meshBench.ready());
  return page;
}

/** Every page's result, or, past the timeout, an error that says how far each page got. */
async function runPages(pages: DriverPage[], request: RunRequest): Promise<PageResult[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      const partial = await Promise.all(pages.map((page) => page.evaluate(() => window.meshBench.partial())));
      const debug = await Promise.all(pages.map((page) => page.evaluate(() => window.meshBench.debug())));
      const progress = partial.map((result) => Object.keys(result?.openAt ?? {}).length);
      const errors = partial.flatMap((result) => result?.errors ?? []);
      // Each page that is missing a channel: its id, engine, and what each of its connections holds.
      const stuck = partial.flatMap((result, i) =>
        Object.keys(result?.openAt ?? {}).length < request.peers
          ? [
              `page ${i} (${pages[i]?.engine}) ${result?.id}: ${JSON.stringify(debug[i])}; marks ` +
                (result?.marks ?? []).map(({ what, peer }) => `${what}@${peer.slice(0, 8)}`).join(' '),
            ]
          : [],
      );
      reject(
        new Error(
          `pool ${request.pool} not meshed after ${MESH_TIMEOUT_MS} ms: channels open per page ${progress.join(', ')} ` +
            `of ${request.peers}; errors: ${errors.join('; ') || 'none'}\n${stuck.join('\n')}`,
        ),
      );
    }, MESH_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      Promise.all(pages.map((page) => page.evaluate((request) => window.meshBench.run(request), request))),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runRound(
  browsers: readonly DriverBrowser[],
  server: BenchServer,
  cpu: CpuMeter,
  options: RoundOptions,
): Promise<RoundResult> {
  const { implementation, size, name } = options;
  const query = implementation === 'rtcpool' ? `?open=${options.open}${options.trace ? '&trace=1' : ''}` : '';
  const url = `${server.url}/${implementation}.html${query}`;
  const log = server.watch(name);
  const opened: DriverPage[] = [];
  try {
    const pages = await Promise.all(
      Array.from({ length: size }, async (_, i) => {
        const page = await openPage(browsers[i % browsers.length] as DriverBrowser, url);
        opened.push(page);
        return page;
      }),
    );
    const cpuSince = await cpu.start();
    const at = now() + START_LEAD_MS;
    const results = await runPages(pages, { pool: name, peers: size - 1, at });
    await log.settled(QUIET_MS, 3_000);
    const cpuMs = await cpuSince();
    const lastOpen = Math.max(...results.flatMap((result) => Object.values(result.openAt)));
    return {
      implementation,
      size,
      meshMs: lastOpen - at,
      cpuMs,
      joinLatenessMs: Math.max(...results.map((result) => result.joinedAt - at)),
      sdp: log.sdp,
      candidates: log.candidates,
      pages: results,
      at,
      errors: [
        ...pages.flatMap((page) => page.errors.map((error) => `page error: ${error}`)),
        ...results.flatMap((result) => result.errors),
      ],
    };
  } finally {
    log.stop();
    await Promise.all(opened.map((page) => page.close()));
  }
}
