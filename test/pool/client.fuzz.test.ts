/**
 * Hostile frames against the client: a real `Pool` (simulated connections,
 * real `Signalling.websocket` and parser) sits in a mesh with 2 or 3
 * well-behaved Pools on an in-memory hub, and a hostile "server" injects
 * arbitrary frames into ONE endpoint's socket (the fuzzed endpoint, F): text
 * that is not JSON, bytes, frames over 64 KiB, deep nesting, wrong types,
 * unknown and legacy v1 events, `rtc:sdp` / `rtc:candidate` claiming to come
 * from known peers, unknown peers or F itself (with descriptions the
 * connection rejects), `rtc:joined` again, `rtc:close` for unknown ids and for
 * real peers followed by their messages, `rtc:describe` with huge or nested
 * values, and `__proto__` / `constructor` / `toString` as ids and keys.
 *
 * After every frame, checked at once (the pool handles a frame synchronously):
 * - nothing was thrown out of the socket's listener;
 * - a frame the parser refuses gave exactly one `error` event carrying a
 *   `SignallingError` with the parser's code;
 * - a parsed frame did what the pool's contract says: `rtc:peer` for a new
 *   id adds it (`peer` event), for a known id or F's own is `duplicate-peer`;
 *   `rtc:sdp` / `rtc:candidate` / `rtc:close` about an id not in the pool is
 *   `unknown-peer`; `rtc:close` for a member removes it (`close` event);
 *   `rtc:describe` is a `describe` event; `rtc:error` a `server-error`.
 *   A second `rtc:joined` and an `rtc:resumed` out of the blue change
 *   nothing (no event is promised for them, at most one `error`);
 * - F's members are what that model says, and `getDescription(id)` answers
 *   the last description set for `id` (null when none), also for
 *   `constructor` and friends.
 *
 * Decisions. The server is trusted with descriptions (`rtc:describe` is
 * accepted for any id, a member or not, as the pool machine does today), with
 * membership and with sender identity: a forged `rtc:close` for a real peer X
 * removes X from F, a forged `rtc:peer` adds a ghost. Those pairs (F, X) are legitimately changed and are not
 * required to work afterwards. Everything else must: after the burst, every
 * pair among the well-behaved endpoints, and every pair of F with a peer whose
 * membership the burst did not touch, still settles with both machines in
 * `{ stable: 'idle' }` and both descriptions applied on the other side, and
 * renegotiates a new transceiver (the simulated connection has no data to
 * exchange: an offer/answer round through the hub over the fuzzed socket is
 * the message). The well-behaved endpoints never see a pool `error`, and their
 * negotiation never reports one, except toward F when F's view of them was
 * changed. `rtc:stop` legitimately ends F's pool: the main test leaves it
 * out; a second test puts one into the burst and checks that F ends cleanly
 * (one `stop`, every connection closed, later frames dropped) and the others
 * see F leave and carry on. Process-level `uncaughtException` and
 * `unhandledRejection` listeners must stay silent throughout.
 *
 * RTCPOOL_CLIENT_FUZZ_FRAMES sets the frames of the main test (default
 * 2,000, in runs of 40). A failure prints fast-check's seed and path; replay
 * it with RTCPOOL_PROPERTY_SEED=<seed> RTCPOOL_PROPERTY_PATH=<path>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { NegotiationError } from '../../machines/errors.js';
import { Pool } from '../../src/pool.js';
import { PoolError, type PoolEventData, type PoolEventError } from '../../src/pool-events.js';
import {
  JOIN_REFUSALS,
  type JsonValue,
  LEGACY_SERVER_EVENTS,
  PROTOCOL_LIMITS,
  parseServerFrame,
  SERVER_EVENTS,
  type ServerMessage,
  SignallingError,
} from '../../src/protocol/index.js';
import { Signalling } from '../../src/signalling/index.js';
import { HubWebSocket } from '../support/hub-websocket.js';
import { MemoryHub } from '../support/memory-hub.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';

const PER_RUN = 40;
const TOTAL = Math.max(PER_RUN, Number(process.env.RTCPOOL_CLIENT_FUZZ_FRAMES ?? 2_000));
const STOP_RUNS = 15;

const params = (numRuns: number): fc.Parameters<[Scenario]> => {
  const chosen: fc.Parameters<[Scenario]> = { numRuns };
  if (process.env.RTCPOOL_PROPERTY_SEED) chosen.seed = Number(process.env.RTCPOOL_PROPERTY_SEED);
  if (process.env.RTCPOOL_PROPERTY_PATH) chosen.path = process.env.RTCPOOL_PROPERTY_PATH;
  return chosen;
};

// ---- What leaks out of the client, process-wide. ----

const leaked: unknown[] = [];
const onLeak = (error: unknown) => leaked.push(error);
beforeAll(() => {
  process.on('uncaughtException', onLeak);
  process.on('unhandledRejection', onLeak);
});
afterAll(() => {
  process.off('uncaughtException', onLeak);
  process.off('unhandledRejection', onLeak);
});

// ---- Endpoints: real Pools over real Signalling, simulated connections. ----

interface Endpoint {
  pool: Pool;
  socket: HubWebSocket;
  id: string;
  /** Per remote peer, the simulated connection the pool made for it (the latest). */
  pcs: Map<string, SimulatedPeerConnection>;
  /** Every pool event, with the index of the frame being injected when it came (-1: none). */
  events: Array<{ at: number; event: PoolEventData }>;
  /** What its negotiation children reported, by child id (the peer id). */
  negotiationErrors: Array<{ peerId: string; error: NegotiationError }>;
  completed: boolean;
}

/** The frame being injected, shared by every endpoint of a run. */
interface Clock {
  frame: number;
}

function createEndpoint(hub: MemoryHub, clock: Clock): Endpoint {
  const created: SimulatedPeerConnection[] = [];
  // Every completion its own macrotask: fast, and interleaved with the hub's deliveries.
  class PeerConnection extends SimulatedPeerConnection {
    constructor() {
      super({ schedule: (_label, run) => setImmediate(run) });
      created.push(this);
    }
  }
  const socket = new HubWebSocket(hub);
  const negotiationErrors: Endpoint['negotiationErrors'] = [];
  const pool = new Pool({ iceServers: [] }, new Signalling.websocket(socket), {
    RTCPeerConnection: PeerConnection as never,
    inspect: (event: InspectionEvent) => {
      if (event.type !== '@xstate.actor') return;
      const actor = event.actorRef as AnyActorRef;
      actor.on('negotiation.error', ({ error }: { error: NegotiationError }) =>
        negotiationErrors.push({ peerId: actor.id, error }),
      );
    },
  });
  const endpoint: Endpoint = {
    pool,
    socket,
    id: '',
    pcs: new Map(),
    events: [],
    negotiationErrors,
    completed: false,
  };
  pool.events$.subscribe({
    next: (event) => {
      endpoint.events.push({ at: clock.frame, event });
      // The pool creates a peer's connection right before announcing it, one for one.
      if (event.type === 'peer') {
        const pc = created.shift();
        if (pc) endpoint.pcs.set(event.connection.id, pc);
      }
    },
    complete: () => {
      endpoint.completed = true;
    },
  });
  return endpoint;
}

/** Polls until `condition` has held three times in a row, letting timers and immediates run. */
async function settle(condition: () => boolean, what: () => string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let streak = 0;
  while (streak < 3) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    streak = condition() ? streak + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Both sides idle and stable, each side's description applied on the other, nothing left to negotiate. */
function pairSettled(a: Endpoint, b: Endpoint): boolean {
  const mine = a.pcs.get(b.id);
  const theirs = b.pcs.get(a.id);
  if (!mine || !theirs) return false;
  const idle = (e: Endpoint, peer: string) =>
    JSON.stringify(e.pool.getConnection(peer)?.negotiationState) === '{"stable":"idle"}';
  const quiet = (pc: SimulatedPeerConnection) =>
    pc.signalingState === 'stable' && pc.pendingOperations === 0 && !pc.hasUnnegotiatedChanges();
  return (
    idle(a, b.id) &&
    idle(b, a.id) &&
    quiet(mine) &&
    quiet(theirs) &&
    mine.currentLocalDescription !== null &&
    theirs.currentRemoteDescription?.sdp === mine.currentLocalDescription.sdp &&
    mine.currentRemoteDescription?.sdp === theirs.currentLocalDescription?.sdp
  );
}

const pairState = (a: Endpoint, b: Endpoint) => {
  const side = (x: Endpoint, y: Endpoint) => {
    const pc = x.pcs.get(y.id);
    return `${x.id}→${y.id}: ${JSON.stringify(x.pool.getConnection(y.id)?.negotiationState)} ${pc?.signalingState} ops=${pc?.pendingOperations}`;
  };
  return `${side(a, b)}; ${side(b, a)}`;
};

// ---- Frames. ----

/** The hub names endpoints in join order; a run has 3 or 4, so the 4th is sometimes a stranger. */
const REAL_IDS = ['endpoint-1', 'endpoint-2', 'endpoint-3', 'endpoint-4'];
const PROBE_IDS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'ghost', 'x'.repeat(128)];
/** Ids whose description is checked after every run. */
const WATCHED_IDS = [...REAL_IDS, ...PROBE_IDS, 'prototype', 'then'];

const idArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...REAL_IDS) },
  { weight: 3, arbitrary: fc.constantFrom(...PROBE_IDS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>('', 'x'.repeat(129), 0, null, ['endpoint-1'], { id: 'endpoint-1' }),
  },
);
const realIdArb = fc.constantFrom(...REAL_IDS);

/** SDP every simulated connection refuses (syntax), so a forged description never takes hold. */
const DEFECTIVE_SDP = [
  'v=0\r\n',
  'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n',
  'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=ice-ufrag:a\r\nm=bogus 9 X\r\na=mid:0\r\n',
  'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=ice-ufrag:a\r\na=ice-ufrag:b\r\nm=application 9 X\r\na=mid:0\r\n',
  'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n',
  'o=- 1 2 IN IP4 127.0.0.1\r\nv=0\r\n',
];
const badSdpArb = fc.oneof(
  fc.string({ maxLength: 60 }).filter((sdp) => !sdp.startsWith('v=0')),
  fc.constantFrom(...DEFECTIVE_SDP),
);
const sessionDescriptionArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constantFrom('offer', 'answer'), sdp: badSdpArb }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('pranswer', 'rollback', '', 'OFFER'), sdp: badSdpArb }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const candidateArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.record(
    {
      candidate: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom(
          'candidate:1 1 udp 2122260223 192.0.2.1 9 typ host',
          'candidate:1 1 udp 2122260223 192.0.2.1 9 typ host generation 0 ufrag forged',
        ),
      ),
      sdpMid: fc.option(fc.constantFrom('0', '1', '9', '', 'x')),
      sdpMLineIndex: fc.option(fc.constantFrom(0, 1, 7, -1, 70_000, 0.5)),
      usernameFragment: fc.option(fc.string({ maxLength: 6 })),
    },
    { requiredKeys: ['candidate'] },
  ),
  fc.jsonValue({ maxDepth: 1 }),
);

/** Nested arrays and objects, `depth` deep (the limit is 32). */
function nested(depth: number): JsonValue {
  let value: JsonValue = 'bottom';
  for (let level = 0; level < depth; level++) value = level % 2 ? [value] : { level: value };
  return value;
}
const pollution = (): JsonValue => {
  const value: { [key: string]: JsonValue } = {};
  Object.defineProperty(value, '__proto__', { value: { polluted: true }, enumerable: true });
  Object.defineProperty(value, 'constructor', { value: { prototype: { polluted: true } }, enumerable: true });
  return value;
};
const describedArb: fc.Arbitrary<unknown> = fc
  .oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 28, max: 40 }).map(nested) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<() => unknown>(
        () => 'x'.repeat(60_000),
        () => new Array(10_001).fill(0),
        () => new Array(9_000).fill(0),
        pollution,
      ),
    },
  )
  .map((value) => (typeof value === 'function' ? value() : value));

const json = (type: unknown, data: unknown) => JSON.stringify({ type, data }) ?? 'undefined';
const event = (type: string, data: fc.Arbitrary<unknown>) => data.map((value) => json(type, value));

// Every event a server may send, in both dialects, but rtc:stop: it ends the pool (the second test's subject).
const SERVER_TYPES = [...SERVER_EVENTS, ...LEGACY_SERVER_EVENTS].filter((type) => type !== 'rtc:stop');
const typeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SERVER_TYPES) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'error',
      'close',
      'message',
      '__proto__',
      'constructor',
      'toString',
      'rtc:join',
      'rtc:dance',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** Well-aimed events of every kind, most of them valid, with the fields of both protocol versions. */
const eventArb = fc.oneof(
  event('rtc:peer', fc.record({ id: idArb, uid: idArb }, { requiredKeys: ['id'] })),
  event('rtc:request_offers', fc.record({ for: idArb })),
  event(
    'rtc:sdp',
    fc.record(
      { peer: idArb, description: sessionDescriptionArb, from: idArb },
      { requiredKeys: ['peer', 'description'] },
    ),
  ),
  event('rtc:offer', fc.record({ for: idArb, offer: sessionDescriptionArb })),
  event('rtc:answer', fc.record({ for: idArb, answer: sessionDescriptionArb })),
  event('rtc:candidate', fc.record({ from: idArb, candidate: candidateArb })),
  event('rtc:close', fc.record({ id: idArb, uid: idArb }, { requiredKeys: [] })),
  event(
    'rtc:describe',
    fc.record({ id: idArb, uid: idArb, description: describedArb }, { requiredKeys: ['description'] }),
  ),
  event(
    'rtc:error',
    fc.record(
      {
        message: fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 0 })),
        reason: fc.oneof(fc.constantFrom(...JOIN_REFUSALS, 'rate-limited', 'resume-refused'), fc.string()),
      },
      { requiredKeys: ['message'] },
    ),
  ),
  event(
    'rtc:joined',
    fc.record(
      {
        client_id: idArb,
        peers: fc.array(idArb, { maxLength: 4 }),
        descriptions: fc.dictionary(fc.constantFrom(...REAL_IDS, ...PROBE_IDS), describedArb, { maxKeys: 3 }),
        pool: fc.option(fc.string({ maxLength: 8 })),
      },
      { requiredKeys: ['client_id', 'peers'] },
    ),
  ),
  event('rtc:resumed', fc.record({ client_id: idArb, received: fc.oneof(fc.nat(), fc.constant(-1)) })),
);

/** Any field the protocol knows, each present or not, valid or not, under any type. */
const soupArb = fc
  .record({
    type: typeArb,
    data: fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record(
          {
            id: idArb,
            uid: idArb,
            for: idArb,
            peer: idArb,
            from: idArb,
            client_id: idArb,
            peers: fc.oneof(fc.array(idArb, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
            description: sessionDescriptionArb,
            candidate: candidateArb,
            message: fc.jsonValue({ maxDepth: 0 }),
          },
          { requiredKeys: [] },
        ),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
  })
  .map(({ type, data }) => json(type, data));

const MAX = PROTOCOL_LIMITS.maxFrameBytes;
const rawArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.json({ maxDepth: 2 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => bytes.buffer),
  fc.anything({ maxDepth: 2 }),
  fc.nat(3).map((extra) => 'x'.repeat(MAX + 1 + extra)),
  // Short in characters, over the limit in UTF-8 bytes.
  fc.nat(3).map((extra) => json('rtc:describe', { id: 'endpoint-1', description: 'é'.repeat(MAX / 2 + extra) })),
  fc.nat(30_000).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc
    .integer({ min: 25, max: 5_000 })
    .map(
      (depth) =>
        `{"type":"rtc:describe","data":{"id":"endpoint-1","description":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
    ),
);

/** A real peer is closed by the server, then "speaks", is described, and maybe comes back. */
const closeThenTalkArb = fc
  .tuple(realIdArb, badSdpArb, fc.boolean())
  .map(([id, sdp, back]) => [
    json('rtc:close', { id, uid: id }),
    json('rtc:sdp', { peer: id, description: { type: 'offer', sdp } }),
    json('rtc:candidate', { from: id, candidate: null }),
    json('rtc:describe', { id, description: { after: 'close' } }),
    ...(back ? [json('rtc:request_offers', { for: id })] : []),
  ]);

/** A frame, printed in a counterexample by its first 300 characters (some are 64 KiB). */
class Frame {
  constructor(readonly raw: unknown) {}
  [fc.toStringMethod](): string {
    const shown = fc.stringify(this.raw);
    return shown.length > 300 ? `${shown.slice(0, 300)}...(${shown.length} characters)` : shown;
  }
}

const frameArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: eventArb },
  { weight: 3, arbitrary: soupArb },
  { weight: 3, arbitrary: rawArb },
);
const chunkArb: fc.Arbitrary<Frame[]> = fc.oneof(
  { weight: 12, arbitrary: frameArb.map((frame) => [new Frame(frame)]) },
  { weight: 1, arbitrary: closeThenTalkArb.map((frames) => frames.map((frame) => new Frame(frame))) },
);

interface Scenario {
  /** Well-behaved endpoints besides the fuzzed one. */
  others: number;
  /** Which of the endpoints, in join order, is fuzzed. */
  fuzzed: number;
  frames: Frame[];
  /** Per frame: 0 = right after the previous one, in the same task; 1 = a macrotask later. */
  gaps: number[];
  /** A well-behaved pair renegotiates while the burst goes on. */
  busy: boolean;
  /** For the stop test: where the rtc:stop goes. */
  stopAt: number;
}

const scenarioArb = (withStop: boolean): fc.Arbitrary<Scenario> =>
  fc.record({
    others: fc.integer({ min: 2, max: 3 }),
    fuzzed: fc.nat(3),
    frames: fc
      .array(chunkArb, { minLength: PER_RUN, maxLength: PER_RUN })
      .map((chunks) => chunks.flat().slice(0, PER_RUN)),
    gaps: fc.array(fc.nat(3), { minLength: PER_RUN, maxLength: PER_RUN }).map((gaps) => gaps.map((g) => (g ? 0 : 1))),
    busy: fc.boolean(),
    stopAt: withStop ? fc.nat(PER_RUN - 1) : fc.constant(-1),
  });

// ---- The oracle. ----

type Verdict = { ok: true; message: ServerMessage } | { ok: false; code: string };

/** What the socket's transceiver plus the parser make of a raw frame: bytes are never signalling. */
function verdictOf(raw: unknown): Verdict {
  if (typeof raw !== 'string') return { ok: false, code: 'malformed-frame' };
  const result = parseServerFrame(raw);
  return result.ok ? { ok: true, message: result.message } : { ok: false, code: result.error.code };
}

/** F's membership and descriptions as the frames so far should have left them. */
interface Model {
  self: string;
  peers: string[];
  descriptions: Map<string, JsonValue>;
  /** Ids whose membership at F the burst changed (forged close or announce). */
  touched: Set<string>;
  stopped: boolean;
}

const STOP_FRAMES = [
  json('rtc:stop', {}),
  json('rtc:stop', { id: 'endpoint-1', extra: [1, 2] }),
  json('rtc:stop', { reason: 'maintenance' }),
];

const stats = new Map<string, number>();
const count = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1);

function expectOneError(produced: PoolEventData[], check: (error: PoolEventError) => void): void {
  expect(
    produced.map((event) => event.type),
    show(produced),
  ).toEqual(['error']);
  const [only] = produced;
  if (only?.type === 'error') check(only.error);
}

function expectPoolError(produced: PoolEventData[], code: string): void {
  expectOneError(produced, (error) => {
    expect(error).toBeInstanceOf(PoolError);
    expect(error.code).toBe(code);
  });
}

const show = (events: PoolEventData[]) =>
  JSON.stringify(
    events.map((event) => (event.type === 'error' ? `error ${event.error.code}: ${event.error.message}` : event.type)),
  );

/** Checks what one frame did to F, and advances the model. */
function checkFrame(verdict: Verdict, produced: PoolEventData[], model: Model, fuzzed: Endpoint): void {
  if (process.env.RTCPOOL_CLIENT_FUZZ_DEBUG) {
    console.log(verdict.ok ? verdict.message.type : verdict.code, show(produced));
  }
  if (model.stopped) {
    expect(produced).toEqual([]);
    count('after-stop');
    return;
  }
  if (!verdict.ok) {
    expectOneError(produced, (error) => {
      expect(error).toBeInstanceOf(SignallingError);
      expect(error.code).toBe(verdict.code);
    });
    count(verdict.code);
    return;
  }
  const { message } = verdict;
  const known = (id: string) => model.peers.includes(id);
  count(message.type);
  switch (message.type) {
    case 'rtc:peer': {
      const { id } = message.data;
      if (id === model.self || known(id)) {
        expectPoolError(produced, 'duplicate-peer');
        break;
      }
      expect(produced.map((event) => (event.type === 'peer' ? event.connection.id : event.type))).toEqual([id]);
      model.peers.push(id);
      model.touched.add(id);
      count('peer-added');
      break;
    }
    case 'rtc:sdp':
    case 'rtc:candidate': {
      const sender = message.type === 'rtc:sdp' ? message.data.peer : message.data.from;
      if (known(sender)) {
        expect(produced).toEqual([]);
        count('relayed-to-negotiation');
      } else expectPoolError(produced, 'unknown-peer');
      break;
    }
    case 'rtc:close': {
      const { id } = message.data;
      if (!known(id)) {
        expectPoolError(produced, 'unknown-peer');
        break;
      }
      expect(produced.map((event) => (event.type === 'close' ? event.connection?.id : event.type))).toEqual([id]);
      model.peers = model.peers.filter((peer) => peer !== id);
      model.descriptions.delete(id);
      model.touched.add(id);
      count('peer-removed');
      break;
    }
    case 'rtc:describe': {
      const { id, description } = message.data;
      expect(produced).toHaveLength(1);
      expect(produced[0]).toMatchObject({ type: 'describe', id });
      expect(produced[0]?.type === 'describe' && produced[0].description).toEqual(description);
      model.descriptions.set(id, description);
      break;
    }
    case 'rtc:error':
      expectPoolError(produced, 'server-error');
      break;
    case 'rtc:stop':
      expect(
        produced.map((event) => event.type),
        show(produced),
      ).toEqual(['stop']);
      expect(fuzzed.completed).toBe(true);
      model.stopped = true;
      break;
    case 'rtc:joined':
    case 'rtc:resumed':
      // Nothing is promised but that they change nothing; at most a refusal.
      expect(
        produced.every((event) => event.type === 'error'),
        show(produced),
      ).toBe(true);
      expect(produced.length, show(produced)).toBeLessThanOrEqual(1);
      count(`${message.type}-events:${produced.length}`);
      break;
  }
  if (!model.stopped) {
    const snapshot = fuzzed.pool.actor.getSnapshot();
    expect(snapshot.status).toBe('active');
    expect(snapshot.value).toBe('joined');
    expect(snapshot.context.selfId).toBe(model.self);
    expect(snapshot.context.peers).toEqual(model.peers);
  }
}

// ---- A run. ----

const ALLOWED_FUZZED_NEGOTIATION_ERRORS = ['remote-offer-rejected', 'remote-answer-rejected', 'candidate-rejected'];

async function run(scenario: Scenario): Promise<void> {
  const hub = new MemoryHub();
  const clock: Clock = { frame: -1 };
  const endpoints: Endpoint[] = [];
  try {
    for (let i = 0; i <= scenario.others; i++) {
      const endpoint = createEndpoint(hub, clock);
      endpoints.push(endpoint);
      endpoint.id = await endpoint.pool.join('room');
    }
    const pairs = endpoints.flatMap((a, i) => endpoints.slice(i + 1).map((b): [Endpoint, Endpoint] => [a, b]));
    await settle(
      () => pairs.every(([a, b]) => pairSettled(a, b)),
      () => `the mesh: ${pairs.map(([a, b]) => pairState(a, b)).join(' | ')}`,
    );

    const fuzzed = endpoints[scenario.fuzzed % endpoints.length] as Endpoint;
    const others = endpoints.filter((endpoint) => endpoint !== fuzzed);
    const context = fuzzed.pool.actor.getSnapshot().context;
    const model: Model = {
      self: fuzzed.id,
      peers: [...context.peers],
      descriptions: new Map(Object.entries(context.descriptions)),
      touched: new Set(),
      stopped: false,
    };
    expect(model.peers).toEqual(others.map((endpoint) => endpoint.id));

    // A pair that does not involve F renegotiates during the burst.
    const [first, second] = others as [Endpoint, Endpoint];
    if (scenario.busy) first.pcs.get(second.id)?.addTransceiver('video');

    const frames = [...scenario.frames];
    if (scenario.stopAt >= 0) {
      frames.splice(scenario.stopAt, 0, new Frame(STOP_FRAMES[scenario.stopAt % STOP_FRAMES.length]));
    }
    for (const [index, { raw }] of frames.entries()) {
      const verdict = verdictOf(raw);
      // rtc:stop ends the pool: only the stop test sends it, where the scenario put it.
      if (scenario.stopAt < 0 && verdict.ok && verdict.message.type === 'rtc:stop') continue;
      if (scenario.gaps[index % scenario.gaps.length]) await new Promise((resolve) => setImmediate(resolve));
      const before = fuzzed.events.length;
      clock.frame = index;
      try {
        expect(() => fuzzed.socket.inject(raw)).not.toThrow();
      } finally {
        clock.frame = -1;
      }
      checkFrame(
        verdict,
        fuzzed.events.slice(before).map(({ event }) => event),
        model,
        fuzzed,
      );
    }

    // Everything F's model says about descriptions, prototype names included.
    const watched = new Set([...WATCHED_IDS, ...model.descriptions.keys()]);
    if (!model.stopped) {
      for (const id of watched) {
        expect(fuzzed.pool.getDescription(id), `description of ${JSON.stringify(id)}`).toEqual(
          model.descriptions.get(id) ?? null,
        );
      }
    }

    // Every connection F ever announced answers where it stands, even named after an Object.prototype member.
    for (const { event } of fuzzed.events) {
      if (event.type !== 'peer') continue;
      const { connection } = event;
      expect(() => connection.negotiationState, `negotiationState of ${connection.id}`).not.toThrow();
      if (!model.stopped && !model.peers.includes(connection.id)) expect(connection.negotiationState).toBe('closed');
    }

    // Who is still expected to work together.
    const working = model.stopped ? others : endpoints;
    const checked = pairs.filter(
      ([a, b]) =>
        working.includes(a) &&
        working.includes(b) &&
        !(a === fuzzed && model.touched.has(b.id)) &&
        !(b === fuzzed && model.touched.has(a.id)),
    );
    await settle(
      () => checked.every(([a, b]) => pairSettled(a, b)),
      () => `after the burst: ${checked.map(([a, b]) => pairState(a, b)).join(' | ')}`,
    );
    // One more round on every such pair: a new transceiver, offered by alternating sides.
    const added = checked.map(([a, b], index) => {
      const [offerer, answerer] = index % 2 ? [b, a] : [a, b];
      return { offerer, answerer, transceiver: offerer.pcs.get(answerer.id)?.addTransceiver('audio') };
    });
    await settle(
      () => checked.every(([a, b]) => pairSettled(a, b)),
      () => `renegotiation: ${checked.map(([a, b]) => pairState(a, b)).join(' | ')}`,
    );
    for (const { offerer, answerer, transceiver } of added) {
      expect(transceiver?.mid, `${offerer.id} → ${answerer.id}: new transceiver`).toBeTruthy();
      expect(offerer.pcs.get(answerer.id)?.negotiatedMids()).toContain(transceiver?.mid);
      expect(answerer.pcs.get(offerer.id)?.negotiatedMids()).toContain(transceiver?.mid);
    }
    count('pairs-renegotiated');

    // The well-behaved endpoints: same members, no refusals, no negotiation trouble among themselves.
    for (const endpoint of others) {
      const snapshot = endpoint.pool.actor.getSnapshot();
      expect(snapshot.status).toBe('active');
      const expected = endpoints.filter((e) => e !== endpoint && !(model.stopped && e === fuzzed)).map((e) => e.id);
      expect(snapshot.context.peers, `${endpoint.id}: members`).toEqual(expected);
      const excused = (peerId: string) => peerId === fuzzed.id && model.touched.has(endpoint.id);
      expect(
        endpoint.events
          .filter(({ event }) => event.type === 'error')
          .map(({ event }) => event)
          .filter(
            (event) =>
              !(
                event.type === 'error' &&
                event.error instanceof NegotiationError &&
                event.connection &&
                excused(event.connection.id)
              ),
          ),
        `${endpoint.id}: errors`,
      ).toEqual([]);
      expect(
        endpoint.negotiationErrors.filter(({ peerId }) => !excused(peerId)).map(({ error }) => error.message),
        `${endpoint.id}: negotiation errors`,
      ).toEqual([]);
      for (const id of PROBE_IDS) expect(endpoint.pool.getDescription(id)).toBeNull();
    }

    // F: errors only at the frames that caused them (or, once it forgot a real peer, that peer's traffic).
    const late = fuzzed.events.filter(({ at, event }) => at === -1 && event.type === 'error');
    const forgotReal = [...model.touched].some((id) => endpoints.some((e) => e.id === id));
    for (const { event } of late) {
      if (event.type === 'error' && event.error instanceof NegotiationError) continue; // checked just below
      expect(forgotReal && event.type === 'error' && event.error.code).toBe('unknown-peer');
    }
    for (const { error } of fuzzed.negotiationErrors) {
      expect(ALLOWED_FUZZED_NEGOTIATION_ERRORS).toContain(error.code);
      count(`negotiation:${error.code}`);
    }
    // Every error a negotiation child reported reached the application, as an `error` event naming the connection.
    for (const endpoint of endpoints) {
      const reported = endpoint.events.flatMap(({ event }) =>
        event.type === 'error' && event.error instanceof NegotiationError
          ? [`${event.connection?.id}: ${event.error.code}`]
          : [],
      );
      expect(reported, `${endpoint.id}: negotiation errors as pool events`).toEqual(
        endpoint.negotiationErrors.map(({ peerId, error }) => `${peerId}: ${error.code}`),
      );
    }

    if (model.stopped) {
      expect(fuzzed.pool.actor.getSnapshot().status).toBe('done');
      expect(fuzzed.pool.nconnections).toBe(0);
      for (const pc of fuzzed.pcs.values()) {
        expect(pc.signalingState).toBe('closed');
        expect(pc.listenerCount()).toBe(0);
      }
      expect(fuzzed.socket.readyState).toBe(3);
      for (const endpoint of others) {
        expect(endpoint.events.at(-1)?.event).toMatchObject({ type: 'close', connection: { id: fuzzed.id } });
      }
    }

    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(leaked).toEqual([]);
  } finally {
    for (const endpoint of endpoints) endpoint.pool.close();
  }
}

describe('the client under hostile server frames', () => {
  test(
    `${TOTAL.toLocaleString('en')} frames into one endpoint: nothing thrown, each refusal reported, the rest of the mesh unharmed`,
    async () => {
      const started = Date.now();
      await fc.assert(fc.asyncProperty(scenarioArb(false), run), params(Math.ceil(TOTAL / PER_RUN)));
      expect(leaked).toEqual([]);
      // Not degenerate: refusals of every kind, and messages that reached the pool's every branch.
      for (const outcome of [
        'malformed-frame',
        'unknown-event',
        'invalid-field',
        'frame-too-large',
        'peer-added',
        'peer-removed',
        'relayed-to-negotiation',
        'rtc:describe',
        'rtc:error',
        'rtc:joined',
      ]) {
        expect(stats.get(outcome) ?? 0, outcome).toBeGreaterThan(0);
      }
      console.log(
        `client fuzz: ${TOTAL} frames in ${Date.now() - started} ms;`,
        JSON.stringify(Object.fromEntries([...stats].sort())),
      );
    },
    Math.max(60_000, TOTAL * 40),
  );

  test(`rtc:stop inside a burst ends the fuzzed pool cleanly and the others carry on (${STOP_RUNS} runs)`, async () => {
    stats.clear();
    await fc.assert(fc.asyncProperty(scenarioArb(true), run), params(STOP_RUNS));
    expect(stats.get('rtc:stop') ?? 0).toBeGreaterThan(0);
    expect(leaked).toEqual([]);
  });
});
