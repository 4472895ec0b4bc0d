/**
 * Pools under every interleaving fast-check can find: up to six people join
 * an in-memory hub in random order, leave, come back as new endpoints, get
 * described, and add data channels and tracks to random connections, while
 * the hub's deliveries, every simulated connection's completions and
 * XState's timers are all tasks of one `fc.scheduler()`. Once nothing is
 * left to run, every pair of present endpoints must be connected and stable,
 * every endpoint that left fully cleaned up, and every endpoint must have
 * emitted exactly what the command log says it should.
 *
 * RTCPOOL_POOL_PROPERTY_RUNS sets the number of runs (default 1,000).
 * A failure prints fast-check's seed and path; replay it with
 * RTCPOOL_POOL_PROPERTY_SEED=<seed> RTCPOOL_POOL_PROPERTY_PATH=<path>.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { JsonValue, PoolEmitted } from '../../machines/pool.js';
import { MemoryHub } from '../support/memory-hub.js';
import { type Flavour, firefoxFlavour, specFlavour, wrtcFlavour } from '../support/scheduled-pair.js';
import {
  type EndpointConnection,
  joinScheduledEndpoint,
  type ScheduledEndpoint,
  schedulerClock,
  schedulerSchedule,
} from '../support/scheduled-pool.js';

const runs = Number(process.env.RTCPOOL_POOL_PROPERTY_RUNS ?? 1_000);
const params: fc.Parameters<unknown> = { numRuns: Math.max(1, runs) };
if (process.env.RTCPOOL_POOL_PROPERTY_SEED) params.seed = Number(process.env.RTCPOOL_POOL_PROPERTY_SEED);
if (process.env.RTCPOOL_POOL_PROPERTY_PATH) params.path = process.env.RTCPOOL_POOL_PROPERTY_PATH;

const POOL = 'room';
/** At most this many people, so at most this many endpoints present at once. */
const MAX_PEOPLE = 6;

/**
 * What the application (or the server, for `describe`) does. `pick` and
 * `connection` choose, modulo their number when the command runs, among
 * the people absent or present and the connections open, so a shrunk
 * scenario still means something; with nobody to choose, a command does
 * nothing.
 */
type Command =
  /** An absent person joins: a new endpoint, even for someone who left before. */
  | { kind: 'join'; pick: number }
  /** A present person leaves: app.close, then the socket goes. */
  | { kind: 'leave'; pick: number }
  /** A present person leaves and comes straight back as a new endpoint. */
  | { kind: 'rejoin'; pick: number }
  /** The server describes a present person. */
  | { kind: 'describe'; pick: number; label: string }
  /** A data channel, or an audio or video transceiver, on an open connection between present endpoints. */
  | { kind: 'datachannel'; connection: number }
  | { kind: 'transceiver'; connection: number; media: 'audio' | 'video' };

const pick = fc.nat({ max: MAX_PEOPLE - 1 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('join' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rejoin' as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('describe' as const), pick, label: fc.string({ maxLength: 3 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('datachannel' as const), connection: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('transceiver' as const),
      connection: fc.nat(),
      media: fc.constantFrom('audio' as const, 'video' as const),
    }),
  },
);

const scenarioArb = fc.record({
  /** How many people take part; at most this many endpoints are present at once. */
  people: fc.integer({ min: 2, max: MAX_PEOPLE }),
  /** How many of them join first (capped at `people`), before the commands: a mesh to disturb. */
  initialJoins: fc.nat({ max: MAX_PEOPLE }),
  commands: fc.array(commandArb, { minLength: 1, maxLength: 24, size: 'medium' }),
  /**
   * Each application opens a data channel on every `peer` event (the README's
   * pattern), so newcomers have changes waiting for their peers' first offers
   * while the fallback timer, like every timer here, may fire at any point.
   */
  channelOnPeer: fc.boolean(),
  /** The n-th endpoint's connections behave like flavours[n % length]. */
  flavours: fc.array(fc.constantFrom<Flavour>(specFlavour, wrtcFlavour, firefoxFlavour), {
    minLength: 1,
    maxLength: 4,
  }),
});

/** What reached the hub, in the order it did: what each endpoint should hear of. */
type LogEntry =
  | { type: 'join'; id: string; peers: string[] }
  | { type: 'leave'; id: string }
  | { type: 'describe'; id: string; description: JsonValue };

interface Tracked {
  endpoint: ScheduledEndpoint;
  person: number;
  /** Index in the log of its join and, once it left, of its leave. */
  joinedAt: number;
  leftAt: number | null;
}

/** The events an endpoint should emit, from its join to its leave (or the end). */
function expectedEvents(log: LogEntry[], tracked: Tracked): PoolEmitted[] {
  const join = log[tracked.joinedAt];
  if (join?.type !== 'join') throw new Error('the log does not hold this join');
  const events: PoolEmitted[] = [{ type: 'pool.joined', id: join.id, pool: POOL, peers: join.peers }];
  for (const entry of log.slice(tracked.joinedAt + 1, tracked.leftAt ?? log.length)) {
    if (entry.type === 'join') events.push({ type: 'pool.peer', id: entry.id });
    else if (entry.type === 'leave') events.push({ type: 'pool.peerleft', id: entry.id });
    else events.push({ type: 'pool.describe', id: entry.id, description: entry.description });
  }
  return events;
}

/**
 * The descriptions an endpoint should hold: each present peer's latest; a
 * peer it found on joining and never described counts as null.
 */
function expectedDescriptions(log: LogEntry[], tracked: Tracked, present: Tracked[]): Record<string, JsonValue> {
  const descriptions: Record<string, JsonValue> = {};
  const join = log[tracked.joinedAt];
  if (join?.type !== 'join') throw new Error('the log does not hold this join');
  for (const id of join.peers) {
    descriptions[id] = null;
    for (const entry of log.slice(0, tracked.joinedAt)) {
      if (entry.type === 'describe' && entry.id === id) descriptions[id] = entry.description;
    }
  }
  for (const entry of log.slice(tracked.joinedAt + 1)) {
    if (entry.type === 'describe') descriptions[entry.id] = entry.description;
    if (entry.type === 'leave') delete descriptions[entry.id];
  }
  for (const id of Object.keys(descriptions)) {
    if (!present.some((p) => p.endpoint.id === id)) throw new Error(`the log keeps ${id}, who left`);
  }
  return descriptions;
}

function expectClosed(connection: EndpointConnection | undefined, what: string): void {
  if (!connection) return;
  expect(connection.pc.signalingState, `${what} closed`).toBe('closed');
  expect(connection.pc.listenerCount(), `${what} without listeners`).toBe(0);
}

function expectPairConnected(a: ScheduledEndpoint, b: ScheduledEndpoint): void {
  const what = `${a.id} → ${b.id}`;
  const child = a.actor.getSnapshot().children[b.id];
  expect(child, `${what}: negotiation child`).toBeDefined();
  expect(child?.getSnapshot().status, `${what}: child status`).toBe('active');
  expect(child?.getSnapshot().value, `${what}: child state`).toEqual({ stable: 'idle' });

  const mine = a.connections.get(b.id);
  const theirs = b.connections.get(a.id);
  expect(mine, `${what}: connection`).toBeDefined();
  expect(theirs, `${b.id} → ${a.id}: connection`).toBeDefined();
  if (!mine || !theirs) return;
  const { pc } = mine;
  expect(pc.signalingState, `${what}: signaling state`).toBe('stable');
  expect(pc.pendingOperations, `${what}: operations in flight`).toBe(0);
  expect(pc.hasUnnegotiatedChanges(), `${what}: unnegotiated changes`).toBe(false);
  expect(pc.currentLocalDescription, `${what}: local description`).not.toBeNull();
  expect(theirs.pc.currentRemoteDescription?.sdp, `${what}: the other side applied our description`).toBe(
    pc.currentLocalDescription?.sdp,
  );
  // The control channel at least, and every track added on this side.
  expect(pc.currentLocalDescription?.sdp, `${what}: control channel`).toMatch(/^m=application/m);
  for (const transceiver of mine.transceivers) {
    expect(transceiver.mid, `${what}: transceiver mid`).not.toBeNull();
    expect(pc.negotiatedMids(), `${what}: transceiver negotiated`).toContain(transceiver.mid);
  }
}

async function runScenario(
  s: fc.Scheduler,
  scenario: { people: number; initialJoins: number; commands: Command[]; channelOnPeer: boolean; flavours: Flavour[] },
): Promise<void> {
  const schedule = schedulerSchedule(s);
  const clock = schedulerClock(s);
  const hub = new MemoryHub({ schedule });
  const log: LogEntry[] = [];
  const everyone: Tracked[] = [];
  const present = new Map<number, Tracked>();

  const join = (who: number): void => {
    const peers = [...present.values()].map((t) => t.endpoint.id);
    const flavour = scenario.flavours[everyone.length % scenario.flavours.length] ?? specFlavour;
    const endpoint = joinScheduledEndpoint({
      hub,
      pool: POOL,
      schedule,
      clock,
      flavour,
      ...(scenario.channelOnPeer
        ? {
            onPeer: (connection: EndpointConnection) => {
              connection.pc.createDataChannel(`peer${connection.dataChannels++}`);
            },
          }
        : {}),
    });
    const tracked: Tracked = { endpoint, person: who, joinedAt: log.length, leftAt: null };
    log.push({ type: 'join', id: endpoint.id, peers });
    everyone.push(tracked);
    present.set(who, tracked);
  };
  const leave = (tracked: Tracked): void => {
    tracked.endpoint.actor.send({ type: 'app.close' });
    tracked.endpoint.client.leave();
    tracked.leftAt = log.length;
    log.push({ type: 'leave', id: tracked.endpoint.id });
    present.delete(tracked.person);
  };
  /** Open connections between present endpoints, in a stable order. */
  const openConnections = (): EndpointConnection[] =>
    [...present.values()].flatMap(({ endpoint }) =>
      [...endpoint.connections]
        .filter(
          ([peerId, c]) =>
            c.pc.signalingState !== 'closed' && [...present.values()].some((p) => p.endpoint.id === peerId),
        )
        .map(([, c]) => c),
    );

  const run = (command: Command): void => {
    const here = [...present.values()];
    const chosen = 'pick' in command ? here[command.pick % Math.max(1, here.length)] : undefined;
    switch (command.kind) {
      case 'join': {
        const absent = Array.from({ length: scenario.people }, (_, who) => who).filter((who) => !present.has(who));
        const who = absent[command.pick % Math.max(1, absent.length)];
        if (who !== undefined) join(who);
        break;
      }
      case 'leave':
        if (chosen) leave(chosen);
        break;
      case 'rejoin':
        if (chosen) {
          leave(chosen);
          join(chosen.person);
        }
        break;
      case 'describe': {
        if (!chosen) break;
        const description = { label: command.label, n: log.length };
        hub.describe(POOL, chosen.endpoint.id, description);
        log.push({ type: 'describe', id: chosen.endpoint.id, description });
        break;
      }
      case 'datachannel':
      case 'transceiver': {
        const open = openConnections();
        const connection = open[command.connection % Math.max(1, open.length)];
        if (!connection) break;
        if (command.kind === 'datachannel') {
          connection.pc.createDataChannel(`app${connection.dataChannels++}`);
        } else {
          connection.transceivers.push(connection.pc.addTransceiver(command.media));
        }
        break;
      }
    }
  };

  try {
    const sequence = s.scheduleSequence(
      [
        ...Array.from(
          { length: Math.min(scenario.initialJoins, scenario.people) },
          (): Command => ({ kind: 'join', pick: 0 }),
        ),
        ...scenario.commands,
      ].map((command) => ({
        label: `command: ${JSON.stringify(command)}`,
        builder: async () => run(command),
      })),
    );
    await s.waitIdle();
    expect(sequence.done && !sequence.faulty, 'every command ran').toBe(true);

    const stillHere = [...present.values()].sort((a, b) => a.joinedAt - b.joinedAt);
    const hereIds = stillHere.map((t) => t.endpoint.id);
    expect([...(hub.pools.get(POOL)?.keys() ?? [])], 'the hub agrees on who is present').toEqual(hereIds);

    for (const tracked of everyone) {
      const { endpoint } = tracked;
      const snapshot = endpoint.actor.getSnapshot();
      expect(
        endpoint.negotiationErrors.map((e) => `${e.code}: ${e.message}`),
        `${endpoint.id}: errors`,
      ).toEqual([]);
      expect(endpoint.duplicateConnections, `${endpoint.id}: connections asked twice`).toEqual([]);
      const expected = expectedEvents(log, tracked);

      if (tracked.leftAt === null) {
        expect(snapshot.status, `${endpoint.id}: status`).toBe('active');
        expect(snapshot.value, `${endpoint.id}: state`).toBe('joined');
        const others = hereIds.filter((id) => id !== endpoint.id);
        // Peers in the order they became known: the hub's order, which is join order.
        expect(snapshot.context.peers, `${endpoint.id}: peers`).toEqual(others);
        expect(Object.keys(snapshot.children).sort(), `${endpoint.id}: children`).toEqual([...others].sort());
        expect(snapshot.context.descriptions, `${endpoint.id}: descriptions`).toEqual(
          expectedDescriptions(log, tracked, stillHere),
        );
        expect(endpoint.emitted, `${endpoint.id}: events`).toEqual(expected);
        expect(endpoint.signallingClosed, `${endpoint.id}: signalling closed`).toBe(0);
        for (const [peerId, connection] of endpoint.connections) {
          if (!others.includes(peerId)) expectClosed(connection, `${endpoint.id} → ${peerId} (left)`);
        }
        for (const other of stillHere) {
          if (other !== tracked) expectPairConnected(endpoint, other.endpoint);
        }
      } else {
        expect(snapshot.status, `${endpoint.id}: status after leaving`).toBe('done');
        expect(snapshot.value, `${endpoint.id}: state after leaving`).toBe('closed');
        expect(Object.keys(snapshot.children), `${endpoint.id}: children after leaving`).toEqual([]);
        expect(endpoint.signallingClosed, `${endpoint.id}: signalling closed`).toBe(1);
        for (const [peerId, connection] of endpoint.connections) {
          expectClosed(connection, `${endpoint.id} → ${peerId} (after leaving)`);
        }
        // What it heard before leaving, in order, then its own close.
        const heard = endpoint.emitted.slice(0, -1);
        expect(endpoint.emitted.at(-1), `${endpoint.id}: last event`).toEqual({ type: 'pool.closed' });
        expect(heard, `${endpoint.id}: events before leaving`).toEqual(expected.slice(0, heard.length));
        for (const other of stillHere) {
          const { context, children } = other.endpoint.actor.getSnapshot();
          expect(context.peers, `${other.endpoint.id} forgot ${endpoint.id}`).not.toContain(endpoint.id);
          expect(children[endpoint.id], `${other.endpoint.id} stopped its child for ${endpoint.id}`).toBeUndefined();
          expectClosed(other.endpoint.connections.get(endpoint.id), `${other.endpoint.id} → ${endpoint.id}`);
        }
      }
    }
  } finally {
    for (const { endpoint } of everyone) endpoint.actor.stop();
  }
}

describe('pools under random interleavings', () => {
  test('endpoints joining, leaving, rejoining, described and adding media settle into a clean full mesh', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarioArb, (s, scenario) => runScenario(s, scenario)),
      params,
    );
  });
});
