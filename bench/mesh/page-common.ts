/**
 * Runs inside Chromium, bundled into both bench pages (rtcpool-page.ts and
 * floor-page.ts): the part of a page that has nothing to do with how it
 * negotiates. It opens the signalling WebSocket ahead of time, joins at the
 * moment Node scheduled, notes when the channel to each peer opens, and
 * answers Node through `window.meshBench` with plain data only.
 */

/**
 * The one clock of the benchmark: epoch milliseconds at sub-millisecond
 * resolution. Every page and the Node process read the same system clock this
 * way, so their times can be compared (index.ts checks how well they agree).
 */
export const now = (): number => performance.timeOrigin + performance.now();

/** What Node asks a page to do in one round. */
export interface RunRequest {
  /** Pool name, fresh for every round. */
  pool: string;
  /** How many other pages join it: the page is done when that many channels are open. */
  peers: number;
  /** When to send `rtc:join`, on the shared clock. */
  at: number;
}

/** A signalling or data-channel moment, for the phase breakdown. */
export interface Mark {
  t: number;
  peer: string;
  what: 'offer-sent' | 'answer-sent' | 'offer-received' | 'answer-received' | 'open';
}

/** What a page reports once every channel is open. */
export interface PageResult {
  /** This page's id in the pool (from `rtc:joined`). */
  id: string;
  /** How far ahead of `at` the request arrived (negative: it came too late and the page joined at once). */
  leadMs: number;
  /** When this page actually sent `rtc:join`. */
  joinedAt: number;
  /** When the channel to each peer opened here, by peer id. */
  openAt: Record<string, number>;
  /** Offers, answers and opens in the order this page saw them. */
  marks: Mark[];
  errors: string[];
}

/** What a negotiator tells the page as it works. */
export interface Report {
  /** This page's id, once the server gave it. */
  joined(id: string): void;
  /** An offer or answer sent or received, or the channel to `peer` open (the first `open` per peer counts). */
  mark(what: Mark['what'], peer: string): void;
  fail(message: string): void;
}

/** The page's half of a round: how it joins and negotiates (and nothing about timing). */
export interface Negotiator {
  /** Resolves once the signalling WebSocket is open. */
  ready: Promise<void>;
  /** Sends `rtc:join` for `pool` now, and reports through `report` from then on. */
  join(pool: string, report: Report): void;
  /** What each connection holds, for a round that timed out (JSON-friendly). */
  debug?(): Record<string, string>;
}

/** `window.meshBench`, driven by bench/mesh/round.ts through `page.evaluate`. */
export interface MeshBench {
  ready(): Promise<void>;
  now(): number;
  run(request: RunRequest): Promise<PageResult>;
  /** The result so far, for a round that timed out. */
  partial(): PageResult | null;
  /** The negotiator's account of each connection, for a round that timed out. */
  debug(): Record<string, string>;
}

declare global {
  interface Window {
    meshBench: MeshBench;
  }
}

/** Calls `then` once `channel` is open (at once if it already is). */
export function whenOpen(channel: RTCDataChannel, then: () => void): void {
  if (channel.readyState === 'open') then();
  else channel.addEventListener('open', then, { once: true });
}

/** The signalling server's raw WebSocket, on this page's own origin (Chromium refuses other loopback origins). */
export const signallingUrl = (): string => `ws://${location.host}/ws`;

/** Exposes `negotiator` to Node as `window.meshBench`. One run per page: every round loads fresh pages. */
export function expose(negotiator: Negotiator): void {
  let current: PageResult | null = null;
  window.meshBench = {
    ready: () => negotiator.ready,
    now,
    partial: () => current,
    debug: () => negotiator.debug?.() ?? {},
    run: (request) =>
      new Promise((resolve) => {
        const result: PageResult = {
          id: '',
          leadMs: request.at - now(),
          joinedAt: 0,
          openAt: {},
          marks: [],
          errors: [],
        };
        current = result;
        const report: Report = {
          joined: (id) => {
            result.id = id;
          },
          mark: (what, peer) => {
            const t = now();
            if (what === 'open') {
              if (result.openAt[peer] !== undefined) return;
              result.openAt[peer] = t;
            }
            result.marks.push({ t, peer, what });
            if (Object.keys(result.openAt).length === request.peers) resolve(result);
          },
          fail: (message) => result.errors.push(message),
        };
        // A timer, not a busy wait: every page of the round is a renderer on the same two cores.
        setTimeout(
          () => {
            result.joinedAt = now();
            negotiator.join(request.pool, report);
          },
          Math.max(0, result.leadMs),
        );
      }),
  };
}
