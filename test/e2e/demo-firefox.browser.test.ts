/**
 * The demo page as a user runs it in Firefox, with a Chromium page in the
 * same pool: `rtcpool serve` (the built CLI, its own process) serves both,
 * each page joins through its form, they mesh, chat both ways, share their
 * fake cameras, and a muted camera is seen on the far side in either
 * browser. The page is driven through its `data-testid` hooks with real
 * clicks (a camera and its sound need a user gesture). demo.browser.test.ts
 * covers the rest of the page in Chromium.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type DriverBrowser, type DriverPage, launchChromiumDriver, pollUntil } from '../support/browser-driver.js';
import { type CliServer, startCliServer } from '../support/cli-server.js';
import { launchFirefoxDriver } from '../support/firefox.js';

const POOL = 'firefox-demo';
const PATIENCE = 45_000;

interface DemoPage {
  page: DriverPage;
  name: string;
  id: string;
}

interface PeerRow {
  state: string;
  channel: string;
  description: string;
}

let server: CliServer;
let chromium: DriverBrowser;
let firefox: DriverBrowser;
const pages: DemoPage[] = [];

beforeAll(async () => {
  [server, chromium, firefox] = await Promise.all([
    startCliServer(),
    launchChromiumDriver({ media: true }),
    launchFirefoxDriver(),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all([chromium?.close(), firefox?.close()]);
  await server?.stop();
});

const testId = (id: string) => `[data-testid="${id}"]`;

async function openDemo(browser: DriverBrowser, name: string): Promise<DemoPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${server.url}?pool=${POOL}&name=${name}`);
  await page.click(testId('join'));
  await page.waitForFunction(() => document.body.dataset.status === 'joined', undefined, PATIENCE);
  const id = await page.evaluate(() => document.querySelector('[data-testid="self-id"]')?.textContent?.trim() ?? '');
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return { page, name, id };
}

function peerRows(page: DriverPage): Promise<Record<string, PeerRow>> {
  return page.evaluate(() => {
    const rows: Record<string, PeerRow> = {};
    for (const row of document.querySelectorAll('[data-testid="peer"]')) {
      const text = (id: string) => row.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() ?? '';
      rows[row.getAttribute('data-peer-id') ?? ''] = {
        state: text('peer-state'),
        channel: text('peer-channel'),
        description: text('peer-description'),
      };
    }
    return rows;
  });
}

function chatFrom(page: DriverPage, from: string): Promise<string[]> {
  return page.evaluate(
    (from) =>
      [...document.querySelectorAll(`[data-testid="chat-message"][data-from="${from}"]`)].map(
        (element) => element.textContent ?? '',
      ),
    from,
  );
}

/** Per peer id: whether its tile receives a live picture (`data-receiving`) and sound (`data-audible`). */
function remoteTiles(page: DriverPage): Promise<Record<string, { receiving: string; audible: string }>> {
  return page.evaluate(() => {
    const tiles: Record<string, { receiving: string; audible: string }> = {};
    for (const tile of document.querySelectorAll('[data-testid="remote-video"]')) {
      tiles[tile.getAttribute('data-peer-id') ?? ''] = {
        receiving: tile.getAttribute('data-receiving') ?? '',
        audible: tile.getAttribute('data-audible') ?? '',
      };
    }
    return tiles;
  });
}

const other = (demo: DemoPage) => pages.find((page) => page !== demo) as DemoPage;

describe('the demo page in Firefox, with a Chromium page in the same pool', { timeout: 120_000 }, () => {
  test('a Chromium page and a Firefox page join through the form and mesh', async () => {
    pages.push(await openDemo(chromium, 'Ada'));
    pages.push(await openDemo(firefox, 'Grace'));
    for (const demo of pages) {
      await pollUntil(
        () => peerRows(demo.page),
        (rows) => rows[other(demo).id]?.state === 'stable.idle' && rows[other(demo).id]?.channel === 'open',
        `${demo.name} (${demo.page.engine}) meshed with ${other(demo).name}`,
        PATIENCE,
      );
      expect((await peerRows(demo.page))[other(demo).id]?.description).toBe(other(demo).name);
    }
  });

  test('chat goes both ways', async () => {
    expect(pages).toHaveLength(2);
    for (const demo of pages) {
      await demo.page.fill(testId('chat-input'), `hello from ${demo.name} in ${demo.page.engine}`);
      await demo.page.click(testId('chat-send'));
    }
    for (const demo of pages) {
      const from = other(demo);
      await pollUntil(
        () => chatFrom(demo.page, from.id),
        (messages) => messages.some((text) => text.includes(`hello from ${from.name} in ${from.page.engine}`)),
        `${demo.name} got ${from.name}'s message`,
        PATIENCE,
      );
    }
  });

  test('cameras both ways; a muted camera is seen on the far side, in either browser', async () => {
    expect(pages).toHaveLength(2);
    for (const demo of pages) await demo.page.click(testId('camera'));
    const receiving = (demo: DemoPage, expected: string) =>
      pollUntil(
        () => remoteTiles(demo.page),
        (tiles) => tiles[other(demo).id]?.receiving === expected,
        `${demo.name} (${demo.page.engine}) sees ${other(demo).name}'s picture ${expected === 'true' ? 'live' : 'muted'}`,
        PATIENCE,
      );
    for (const demo of pages) await receiving(demo, 'true');
    for (const demo of pages) {
      const watcher = other(demo);
      await demo.page.click(testId('mute-video'));
      await receiving(watcher, 'false');
      await demo.page.click(testId('mute-video'));
      await receiving(watcher, 'true');
    }
    for (const demo of pages) {
      expect(demo.page.errors).toEqual([]);
      expect(await demo.page.evaluate(() => document.querySelectorAll('[data-testid="error"]').length)).toBe(0);
    }
  });
});
