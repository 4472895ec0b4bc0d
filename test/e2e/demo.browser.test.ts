/**
 * The whole system as a user runs it: `rtcpool serve` (the built CLI, its own
 * process) serving the demo page and the browser build, Chromium pages in
 * separate browser contexts driving the page's UI, and a Node peer on
 * @roamhq/wrtc in the same pool. The tests run in order on one pool: mesh and
 * chat, each connection's statistics, media, screen sharing, descriptions,
 * the Node peer, a leave and rejoin, and the stop.
 *
 * Screen sharing is the page's real path: headless Chromium's getDisplayMedia
 * works here with the two fake-media flags below (--use-fake-device-for-media-stream
 * provides a fake screen, 1280x720, and --use-fake-ui-for-media-stream picks
 * it without showing a picker); no other flag is needed and no test hook.
 */
import { mkdirSync } from 'node:fs';
import wrtc from '@roamhq/wrtc';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { ManagedConnection } from '../../src/managed-connection.js';
import { Pool } from '../../src/pool.js';
import { Signalling } from '../../src/signalling/index.js';
import { launchChromium, PLAIN_HOST_CANDIDATES } from '../support/browser-driver.js';
import { type CliServer, startCliServer } from '../support/cli-server.js';
import { eventually } from '../support/wait.js';

const POOL = 'e2e-room';
const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara'];
const SCREENSHOTS = 'test-output/screenshots';
const FAKE_MEDIA = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];
/** Browser work on a shared 2-core machine: generous, and only ever a ceiling for polling. */
const PATIENCE = 45_000;

interface DemoPage {
  page: Page;
  name: string;
  id: string;
  errors: string[];
  /** `rtc:sdp` frames this page sent to the server (offers and answers), counted on the wire. */
  sdpSent: number;
}

let server: CliServer;
let browser: Browser;
const pages: DemoPage[] = [];

beforeAll(async () => {
  server = await startCliServer();
  browser = await launchChromium([PLAIN_HOST_CANDIDATES, ...FAKE_MEDIA]);
  mkdirSync(SCREENSHOTS, { recursive: true });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const byTestId = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);

async function status(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.body.dataset.status);
}

/** Opens the demo in a fresh browser context and joins through its form. */
async function openDemo(name: string): Promise<DemoPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const demo: DemoPage = { page, name, id: '', errors, sdpSent: 0 };
  page.on('websocket', (socket) =>
    socket.on('framesent', ({ payload }) => {
      if (frameType(payload) === 'rtc:sdp') demo.sdpSent++;
    }),
  );
  await page.goto(`${server.url}?pool=${POOL}&name=${name}`);
  await join(demo);
  return demo;
}

/** The `type` of a signalling frame (`{"type": "rtc:sdp", "data": {...}}`). */
function frameType(payload: string | Buffer): string | undefined {
  try {
    return (JSON.parse(String(payload)) as { type?: string }).type;
  } catch {
    return undefined;
  }
}

async function join(demo: DemoPage): Promise<void> {
  await byTestId(demo.page, 'join').click();
  await demo.page.waitForFunction(() => document.body.dataset.status === 'joined', undefined, { timeout: PATIENCE });
  demo.id = (await byTestId(demo.page, 'self-id').textContent())?.trim() ?? '';
  expect(demo.id).toMatch(/^[0-9a-f-]{36}$/);
}

/** Per peer id shown on a page: its description, negotiation state and chat channel. */
async function peerRows(page: Page): Promise<Map<string, { description: string; state: string; channel: string }>> {
  const rows = await page.$$eval('[data-testid="peer"]', (elements) =>
    elements.map((row) => {
      const text = (id: string) => row.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() ?? '';
      return [
        row.getAttribute('data-peer-id') ?? '',
        { description: text('peer-description'), state: text('peer-state'), channel: text('peer-channel') },
      ] as const;
    }),
  );
  return new Map(rows);
}

/** Every page lists exactly the others, each stable with its chat channel open. */
async function meshed(group: DemoPage[]): Promise<boolean> {
  for (const demo of group) {
    const rows = await peerRows(demo.page);
    const expected = group.filter((other) => other !== demo).map((other) => other.id);
    if (rows.size !== expected.length) return false;
    for (const id of expected) {
      const row = rows.get(id);
      if (row?.channel !== 'open' || row.state !== 'stable.idle') return false;
    }
  }
  return true;
}

async function chatFrom(page: Page, from: string): Promise<string[]> {
  return page.$$eval(`[data-testid="chat-message"][data-from="${from}"]`, (elements) =>
    elements.map((element) => element.textContent ?? ''),
  );
}

interface StatsLine {
  text: string;
  connection: string | undefined;
  candidate: string | undefined;
  rtt: string | undefined;
  kbpsIn: string | undefined;
  kbpsOut: string | undefined;
}

/** Per peer id shown on a page: its row's statistics line. */
async function statsLines(page: Page): Promise<Map<string, StatsLine>> {
  const lines = await page.$$eval('[data-testid="peer"]', (rows) =>
    rows.map((row) => {
      const line = row.querySelector<HTMLElement>('[data-testid="peer-stats"]');
      const { connection, candidate, rtt, kbpsIn, kbpsOut } = line?.dataset ?? {};
      const stats = { text: line?.textContent ?? '', connection, candidate, rtt, kbpsIn, kbpsOut };
      return [row.getAttribute('data-peer-id') ?? '', stats] as const;
    }),
  );
  return new Map(lines);
}

/** How many connections the page polls for statistics. */
async function statsPolling(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { rtcpoolDemo: { statsPolling: number } }).rtcpoolDemo.statsPolling);
}

/** The picture of `from` as `page` shows it: its size, frames decoded so far, and the tile's verdict. */
async function remotePicture(page: Page, from: string) {
  return page.$eval(`[data-testid="remote-video"][data-peer-id="${from}"]`, (tile) => {
    const video = tile.querySelector('video') as HTMLVideoElement;
    return {
      width: video.videoWidth,
      height: video.videoHeight,
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
      receiving: tile.getAttribute('data-receiving'),
    };
  });
}

/** The local preview: what it says it shows, and the size of what it plays. */
async function localPicture(page: Page) {
  return page.$eval('[data-testid="local-video"]', (tile) => {
    const video = tile.querySelector('video') as HTMLVideoElement;
    return { source: tile.getAttribute('data-source'), width: video.videoWidth, height: video.videoHeight };
  });
}

/** The fake screen is 16:9 (1280x720), the fake camera 4:3 (640x480); the encoder may scale either, not reshape it. */
const wide = ({ width, height }: { width: number; height: number }) => height > 0 && width / height > 1.6;
const fourByThree = ({ width, height }: { width: number; height: number }) =>
  height > 0 && Math.abs(width / height - 4 / 3) < 0.05;

async function remoteTiles(page: Page): Promise<Map<string, string>> {
  const tiles = await page.$$eval('[data-testid="remote-video"]', (elements) =>
    elements.map(
      (tile) => [tile.getAttribute('data-peer-id') ?? '', tile.getAttribute('data-receiving') ?? ''] as const,
    ),
  );
  return new Map(tiles);
}

// Each step waits on several pages in turn, each wait bounded by PATIENCE.
describe('the demo page against rtcpool serve, in Chromium', { timeout: 180_000 }, () => {
  test('four pages join through the page, mesh, and each chat message reaches all the others', async () => {
    for (const name of NAMES) pages.push(await openDemo(name));
    await eventually(() => meshed(pages), 'four pages meshed with open chat channels', PATIENCE);

    for (const demo of pages) {
      const rows = await peerRows(demo.page);
      for (const other of pages.filter((peer) => peer !== demo)) {
        // The server described every endpoint with the name its page asked for.
        expect(rows.get(other.id)?.description).toBe(other.name);
      }
    }

    for (const demo of pages) {
      await byTestId(demo.page, 'chat-input').fill(`hello from ${demo.name}`);
      await byTestId(demo.page, 'chat-send').click();
    }
    for (const demo of pages) {
      for (const other of pages.filter((peer) => peer !== demo)) {
        await eventually(
          async () => (await chatFrom(demo.page, other.id)).some((text) => text.includes(`hello from ${other.name}`)),
          `${demo.name} got ${other.name}'s message`,
          PATIENCE,
        );
      }
    }
    for (const demo of pages) await demo.page.screenshot({ path: `${SCREENSHOTS}/mesh-${demo.name}.png` });
  });

  test('each peer row shows its connection: state, a host candidate on loopback, the RTT and the bitrates', async () => {
    for (const demo of pages) {
      const others = pages.filter((peer) => peer !== demo);
      await eventually(
        async () => {
          const lines = await statsLines(demo.page);
          // The bitrates need two polls: the first one only starts the byte counters.
          return others.every((other) => {
            const line = lines.get(other.id);
            return line?.candidate !== undefined && line.rtt !== undefined && line.kbpsOut !== undefined;
          });
        },
        `${demo.name}'s statistics lines`,
        PATIENCE,
      );
      const lines = await statsLines(demo.page);
      for (const other of others) {
        const line = lines.get(other.id) as StatsLine;
        expect(line.connection).toBe('connected');
        expect(line.candidate).toBe('host');
        for (const number of [line.rtt, line.kbpsIn, line.kbpsOut]) {
          expect(Number.isFinite(Number(number)) && Number(number) >= 0, `${number} in ${line.text}`).toBe(true);
        }
        expect(line.text).toMatch(/^connected · host · RTT \d+(\.\d)? ms · ↓ [\d.]+ ↑ [\d.]+ kbit\/s$/);
      }
      expect(await statsPolling(demo.page)).toBe(others.length);
    }
  });

  test('fake camera tracks reach every page, and muting video is seen on the far side', async () => {
    for (const demo of pages) await byTestId(demo.page, 'camera').click();
    const receivingFromAll = async (demo: DemoPage) => {
      const tiles = await remoteTiles(demo.page);
      return pages.every((other) => other === demo || tiles.get(other.id) === 'true');
    };
    for (const demo of pages) {
      await eventually(() => receivingFromAll(demo), `${demo.name} receives every camera`, PATIENCE);
    }
    for (const demo of pages) await demo.page.screenshot({ path: `${SCREENSHOTS}/camera-${demo.name}.png` });

    const [muter, ...others] = pages as [DemoPage, ...DemoPage[]];
    await byTestId(muter.page, 'mute-video').click();
    for (const demo of others) {
      await eventually(
        async () => (await remoteTiles(demo.page)).get(muter.id) === 'false',
        `${demo.name} sees ${muter.name}'s video muted`,
        PATIENCE,
      );
    }
    await byTestId(muter.page, 'mute-video').click();
    for (const demo of others) {
      await eventually(
        async () => (await remoteTiles(demo.page)).get(muter.id) === 'true',
        `${demo.name} sees ${muter.name}'s video again`,
        PATIENCE,
      );
    }
  });

  test('sharing the screen swaps the video every peer receives, with no renegotiation, and back', async () => {
    const [sharer, ...others] = pages as [DemoPage, ...DemoPage[]];
    const screenButton = byTestId(sharer.page, 'screen');
    // Twelve decoded videos keep two cores busy: only the sharer's camera stays on (it goes off at the end).
    for (const demo of others) await byTestId(demo.page, 'camera').click();
    for (const demo of pages) {
      await eventually(
        async () => [...(await remoteTiles(demo.page)).keys()].every((id) => id === sharer.id),
        `${demo.name} shows ${sharer.name}'s camera only`,
        PATIENCE,
      );
    }
    const sdpSent = () => pages.reduce((sum, demo) => sum + demo.sdpSent, 0);
    // Frames reach the test in events apart from the pages' state: the count is taken once every pair is
    // settled and it has not moved for a moment.
    let offersAndAnswers = 0;
    await eventually(
      async () => {
        offersAndAnswers = sdpSent();
        await new Promise((resolve) => setTimeout(resolve, 300));
        return (await meshed(pages)) && sdpSent() === offersAndAnswers;
      },
      'every pair settled before counting offers',
      PATIENCE,
    );
    expect(offersAndAnswers).toBeGreaterThan(0); // the count sees the pairs' negotiations so far

    // Cancelling the browser's picker is a notice, not an error, and the camera stays.
    await sharer.page.evaluate(() => {
      const devices = navigator.mediaDevices;
      const real = devices.getDisplayMedia;
      devices.getDisplayMedia = async () => {
        devices.getDisplayMedia = real;
        throw new DOMException('Permission denied by user', 'NotAllowedError');
      };
    });
    await screenButton.click();
    await sharer.page.waitForSelector('[data-testid="notice"]:has-text("Screen sharing cancelled")', {
      timeout: PATIENCE,
    });
    expect(await screenButton.getAttribute('aria-pressed')).toBe('false');
    expect((await localPicture(sharer.page)).source).toBe('camera');

    /** Every other page receives the sharer's picture in that shape, and its frames keep coming. */
    const everyoneSees = async (shape: (size: { width: number; height: number }) => boolean, what: string) => {
      for (const demo of others) {
        await eventually(
          async () => {
            const picture = await remotePicture(demo.page, sharer.id);
            return shape(picture) && picture.receiving === 'true';
          },
          `${demo.name} receives ${sharer.name}'s ${what}`,
          PATIENCE,
        );
        const { frames } = await remotePicture(demo.page, sharer.id);
        await eventually(
          async () => (await remotePicture(demo.page, sharer.id)).frames >= frames + 3,
          `${sharer.name}'s ${what} keeps playing at ${demo.name}`,
          PATIENCE,
        );
      }
    };

    await screenButton.click();
    await eventually(async () => wide(await localPicture(sharer.page)), 'the preview shows the screen', PATIENCE);
    expect(await screenButton.getAttribute('aria-pressed')).toBe('true');
    expect((await localPicture(sharer.page)).source).toBe('screen');
    await everyoneSees(wide, 'screen');

    await screenButton.click();
    await eventually(
      async () => fourByThree(await localPicture(sharer.page)),
      'the preview shows the camera',
      PATIENCE,
    );
    expect(await screenButton.getAttribute('aria-pressed')).toBe('false');
    expect((await localPicture(sharer.page)).source).toBe('camera');
    await everyoneSees(fourByThree, 'camera');

    // The browser's own "Stop sharing" ends the screen track. A page cannot end it that way (stop() fires no
    // `ended`), so the event is dispatched as the browser would: the camera comes back as with the button
    // (the same swap as above, so the preview is enough here).
    await screenButton.click();
    await eventually(async () => wide(await localPicture(sharer.page)), 'the preview shows the screen again', PATIENCE);
    const screen = await sharer.page.evaluateHandle(() => {
      const preview = document.querySelector<HTMLVideoElement>('[data-testid="local-video"] video');
      return (preview?.srcObject as MediaStream | null)?.getVideoTracks()[0];
    });
    expect(await screen.evaluate((track) => track?.label)).toMatch(/^screen:/);
    await screen.evaluate((track) => track?.dispatchEvent(new Event('ended')));
    await eventually(
      async () => fourByThree(await localPicture(sharer.page)),
      'the preview shows the camera after "Stop sharing"',
      PATIENCE,
    );
    expect(await screen.evaluate((track) => track?.readyState)).toBe('ended'); // the page stopped the capture
    expect(await screenButton.getAttribute('aria-pressed')).toBe('false');
    expect((await localPicture(sharer.page)).source).toBe('camera');
    await screen.dispose();

    // replaceTrack: not one offer or answer went through the server for any of it, and none is pending.
    await eventually(() => meshed(pages), 'every pair still settled', PATIENCE);
    expect(sdpSent()).toBe(offersAndAnswers);
    expect(sharer.errors).toEqual([]);
    expect(await sharer.page.locator('[data-testid="error"]').count()).toBe(0);

    // The rest of the scenario runs with cameras off.
    await byTestId(sharer.page, 'camera').click();
    for (const demo of pages) {
      await eventually(async () => (await remoteTiles(demo.page)).size === 0, `${demo.name}'s tiles gone`, PATIENCE);
    }
  });

  test('a description set by the server reaches every other page; a page describing itself gets an error', async () => {
    const [host, self, ...rest] = pages as [DemoPage, DemoPage, ...DemoPage[]];
    const answer = await server.admin('POST', '/admin/describe', {
      clientId: host.id,
      description: { name: 'Ada (host)' },
    });
    expect(answer.status).toBe(200);
    for (const demo of [self, ...rest]) {
      await eventually(
        async () => (await peerRows(demo.page)).get(host.id)?.description === 'Ada (host)',
        `${demo.name} shows the new description`,
        PATIENCE,
      );
    }

    await byTestId(self.page, 'describe-input').fill('{"name": "Grace, admin"}');
    await byTestId(self.page, 'describe-send').click();
    await self.page.waitForSelector('[data-testid="error"][data-reason="forbidden-event"]', { timeout: PATIENCE });
    const members = await server.admin('GET', '/admin/pools');
    const listed = (members.body as { id: string; members: { id: string; description: unknown }[] }[]).find(
      (pool) => pool.id === POOL,
    );
    expect(listed?.members.find((member) => member.id === self.id)?.description).toEqual({ name: 'Grace' });
    for (const demo of [host, ...rest]) expect((await peerRows(demo.page)).get(self.id)?.description).toBe('Grace');
  });

  test('a Node peer on @roamhq/wrtc joins the browsers pool and exchanges chat with every page', async () => {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}ws?name=Node`);
    const node = new Pool({ iceServers: [] }, new Signalling.websocket(socket), {
      RTCPeerConnection: wrtc.RTCPeerConnection as never,
    });
    // The demo's rule: the endpoint that was there first opens `chat`; the Node peer came last, so it receives them.
    const channels = new Map<string, RTCDataChannel>();
    const received = new Map<string, string[]>();
    node.events.ondatachannel = ({ detail: { connection, channel } }) => {
      if (channel.label !== 'chat') return;
      channels.set(connection.id, channel);
      channel.addEventListener('message', (event) => {
        received.set(connection.id, [...(received.get(connection.id) ?? []), String((event as MessageEvent).data)]);
      });
    };
    let nodeId = '';
    try {
      nodeId = await node.join(POOL);
      await eventually(
        () => pages.every((demo) => channels.get(demo.id)?.readyState === 'open'),
        'a chat channel from every page to the Node peer',
        PATIENCE,
      );
      for (const demo of pages) channels.get(demo.id)?.send(JSON.stringify({ text: `hi ${demo.name}, from Node` }));
      for (const demo of pages) {
        await eventually(
          async () => (await chatFrom(demo.page, nodeId)).some((text) => text.includes(`from Node`)),
          `${demo.name} got the Node peer's message`,
          PATIENCE,
        );
        await byTestId(demo.page, 'chat-input').fill(`hello Node, ${demo.name} here`);
        await byTestId(demo.page, 'chat-send').click();
      }
      await eventually(
        () => pages.every((demo) => received.get(demo.id)?.some((text) => text.includes(`${demo.name} here`))),
        'the Node peer got a message from every page',
        PATIENCE,
      );
      expect(node.connections.map((connection: ManagedConnection) => connection.id).sort()).toEqual(
        pages.map((demo) => demo.id).sort(),
      );
    } finally {
      node.close();
    }
    for (const demo of pages) {
      await eventually(
        async () => !(await peerRows(demo.page)).has(nodeId),
        `${demo.name} dropped the Node peer`,
        PATIENCE,
      );
    }
  });

  test('a page that leaves disappears from the others; it rejoins with a new id and meshes again', async () => {
    const leaver = pages[3] as DemoPage;
    const stayers = pages.slice(0, 3);
    const oldId = leaver.id;
    await byTestId(leaver.page, 'leave').click();
    expect(await status(leaver.page)).toBe('closed');
    // Leaving ends every connection's statistics polling.
    expect(await statsPolling(leaver.page)).toBe(0);
    for (const demo of stayers) {
      await eventually(
        async () => !(await peerRows(demo.page)).has(oldId),
        `${demo.name} removed the leaver`,
        PATIENCE,
      );
    }
    await eventually(() => meshed(stayers), 'the three that stayed still meshed', PATIENCE);
    // A peer leaving ends its polling.
    for (const demo of stayers) expect(await statsPolling(demo.page)).toBe(2);

    await join(leaver);
    expect(leaver.id).not.toBe(oldId);
    await eventually(() => meshed(pages), 'four pages meshed again', PATIENCE);
  });

  test('the server stops the pool: every page shows it', async () => {
    const answer = await server.admin('POST', '/admin/stop', { pool: POOL });
    expect(answer.status).toBe(200);
    for (const demo of pages) {
      await demo.page.waitForFunction(() => document.body.dataset.status === 'stopped', undefined, {
        timeout: PATIENCE,
      });
      await expect(byTestId(demo.page, 'stopped-banner').isVisible()).resolves.toBe(true);
    }
    for (const demo of pages) expect(demo.errors).toEqual([]);
    for (const demo of pages) expect(await statsPolling(demo.page)).toBe(0);
    expect((await server.admin('GET', '/admin/pools')).body).toEqual([]);
  });
});
