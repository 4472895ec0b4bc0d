/**
 * The hub (the server without its transports) under random sequences of
 * connections, joins, relays to every kind of target (a pool mate, oneself,
 * someone in another pool, someone gone, nobody), client-sent descriptions,
 * garbage, leaves, server descriptions and stopped pools, against a model of
 * who is in which pool. After every step: each connection received exactly
 * what the model says (nothing reaches another pool, senders are always the
 * server's idea of them), every frame the server sent parses with the
 * client's own parser, and the counters agree with the model.
 *
 * RTCPOOL_HUB_PROPERTY_RUNS sets the number of runs (default 300).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseClientEvent, parseServerEvent } from '../../src/protocol/index.js';
import type { RejectionReason } from '../../src/server/index.js';
import type { Endpoint, Link } from '../../src/server/sessions.js';
import { settled, testHub } from '../support/server-hub.js';

const runs = Math.max(1, Number(process.env.RTCPOOL_HUB_PROPERTY_RUNS ?? 300));
const POOLS = ['p', 'q', '__proto__'] as const;

type Step =
  | { kind: 'open' }
  | { kind: 'join'; who: number; pool: number }
  | { kind: 'relay'; who: number; event: 'rtc:sdp' | 'rtc:candidate'; target: number; spoof: boolean }
  | { kind: 'describe-forged'; who: number; target: number }
  | { kind: 'garbage'; who: number }
  | { kind: 'leave'; who: number }
  | { kind: 'describe'; target: number }
  | { kind: 'stop'; pool: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'open' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('join' as const), who: fc.nat(), pool: fc.nat() }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('relay' as const),
      who: fc.nat(),
      event: fc.constantFrom('rtc:sdp' as const, 'rtc:candidate' as const),
      target: fc.nat(),
      spoof: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('describe-forged' as const), who: fc.nat(), target: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), who: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('leave' as const), who: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('describe' as const), target: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stop' as const), pool: fc.nat() }) },
);

/** One connection: its link's outbox, and what the model knows of it. */
interface Connection {
  endpoint: Endpoint;
  sent: Array<{ type: string; data: Record<string, unknown> }>;
  closedWith: number | null;
  /** Its id once joined (kept after it leaves, as a stale relay target). */
  id: string | null;
  pool: string | null;
  /** The description the server last gave it. */
  description: unknown;
  gone: boolean;
}

function run(steps: Step[]): void {
  const hub = testHub({ maxPeersPerPool: 4 });
  const connections: Connection[] = [];
  const totals = { joins: 0, leaves: 0, resumes: 0, relays: 0, rejections: 0 };
  const byReason: Partial<Record<RejectionReason, number>> = {};
  const members = (pool: string) => connections.filter((one) => !one.gone && one.pool === pool);
  const live = () => connections.filter((one) => !one.gone);
  /** Everyone's outbox length, to tell what one step sent. */
  const marks = () => connections.map(({ sent }) => sent.length);
  const newSince = (before: number[]) =>
    connections
      .map((one, index) => one.sent.slice(before[index] ?? 0))
      .map((frames) => frames.map(({ type, data }) => ({ type, data })));
  const ids = () => connections.map(({ id }) => id).filter((id): id is string => id !== null);

  const open = () => {
    const connection = {
      sent: [],
      closedWith: null,
      id: null,
      pool: null,
      description: null,
      gone: false,
    } as unknown as Connection;
    const link: Link = {
      send: (type, data) => {
        // A closed connection sends nothing more (the transports' links behave so).
        if (connection.closedWith === null && !connection.gone) connection.sent.push({ type, data });
      },
      close: (code) => {
        connection.closedWith = code;
      },
      terminate: () => undefined,
      ping: () => undefined,
    };
    connection.endpoint = hub.open(link, { identity: undefined, request: {} as never, transport: 'websocket' });
    connections.push(connection);
  };
  const receive = (connection: Connection, type: string, data: unknown) =>
    hub.receive(connection.endpoint, () => parseClientEvent(type, data));
  const rejected = (reason: RejectionReason) => {
    totals.rejections += 1;
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  };
  const pickLive = (n: number) => {
    const all = live();
    return all.length === 0 ? undefined : all[n % all.length];
  };

  for (const current of steps) {
    const before = marks();
    /** What each connection (by index) should have received in this step. */
    const expected: Array<Array<{ type: string; data: unknown }>> = connections.map(() => []);
    const expect_ = (connection: Connection, type: string, data: unknown) => {
      expected[connections.indexOf(connection)]?.push({ type, data });
    };

    switch (current.kind) {
      case 'open': {
        open();
        expected.push([]);
        break;
      }
      case 'join': {
        const who = pickLive(current.who);
        if (!who) break;
        const pool = POOLS[current.pool % POOLS.length] as string;
        receive(who, 'rtc:join', { pool });
        if (who.pool !== null) {
          expect_(who, 'rtc:error', { reason: 'already-joined', message: expect.any(String) });
          rejected('already-joined');
          break;
        }
        const already = members(pool);
        if (already.length >= 4) {
          expect_(who, 'rtc:error', { reason: 'pool-full', message: expect.any(String) });
          rejected('pool-full');
          break;
        }
        const frame = who.sent.at(-1);
        expect(frame?.type).toBe('rtc:joined');
        who.id = String(frame?.data.client_id);
        who.pool = pool;
        totals.joins += 1;
        const descriptions = Object.fromEntries(already.map((one) => [one.id, one.description]));
        expect_(who, 'rtc:joined', {
          client_id: who.id,
          peers: already.map(({ id }) => id),
          descriptions,
          pool,
          answers_ping: true,
        });
        for (const one of already) expect_(one, 'rtc:peer', { id: who.id });
        break;
      }
      case 'relay': {
        const who = pickLive(current.who);
        if (!who) break;
        const known = ids();
        // A target among every id ever handed out, or one nobody has.
        const to =
          current.target % (known.length + 1) === known.length
            ? 'nobody'
            : (known[current.target % (known.length + 1)] as string);
        const spoofed = current.spoof ? { peer: 'mallory', from: 'mallory' } : {};
        const description = { type: 'offer', sdp: 'v=0\r\n' };
        if (current.event === 'rtc:sdp') receive(who, 'rtc:sdp', { to, description, ...spoofed });
        else receive(who, 'rtc:candidate', { for: to, candidate: null, ...spoofed });
        const target = connections.find((one) => one.id === to && !one.gone);
        if (who.pool === null) {
          expect_(who, 'rtc:error', { reason: 'not-joined', message: expect.any(String) });
          rejected('not-joined');
        } else if (!target || target === who || target.pool !== who.pool) {
          expect_(who, 'rtc:error', { reason: 'unknown-peer', message: expect.any(String) });
          rejected('unknown-peer');
        } else {
          totals.relays += 1;
          if (current.event === 'rtc:sdp') expect_(target, 'rtc:sdp', { peer: who.id, description });
          else expect_(target, 'rtc:candidate', { from: who.id, candidate: null });
        }
        break;
      }
      case 'describe-forged': {
        const who = pickLive(current.who);
        if (!who) break;
        const known = ids();
        receive(who, 'rtc:describe', {
          id: known[current.target % Math.max(1, known.length)] ?? 'x',
          description: 'forged',
        });
        expect_(who, 'rtc:error', { reason: 'forbidden-event', message: expect.any(String) });
        rejected('forbidden-event');
        break;
      }
      case 'garbage': {
        const who = pickLive(current.who);
        if (!who) break;
        receive(who, 'rtc:join', { pool: 42 });
        expect_(who, 'rtc:error', { reason: 'invalid-field', message: expect.any(String) });
        rejected('invalid-field');
        break;
      }
      case 'leave': {
        const who = pickLive(current.who);
        if (!who) break;
        hub.disconnect(who.endpoint, { why: 'closed', keepSession: false });
        who.gone = true;
        if (who.pool !== null) {
          totals.leaves += 1;
          for (const one of members(who.pool)) expect_(one, 'rtc:close', { id: who.id, uid: who.id });
        }
        break;
      }
      case 'describe': {
        const joined = live().filter(({ pool }) => pool !== null);
        const target = joined[current.target % Math.max(1, joined.length)];
        const description = { n: current.target };
        expect(hub.describe(target?.id ?? 'nobody', description)).toBe(target !== undefined);
        if (!target?.pool) break;
        target.description = description;
        for (const one of members(target.pool))
          if (one !== target) expect_(one, 'rtc:describe', { id: target.id, description });
        break;
      }
      case 'stop': {
        const pool = POOLS[current.pool % POOLS.length] as string;
        const doomed = members(pool);
        expect(settled(hub.stopPool(pool))).toBe(doomed.length > 0);
        for (const one of doomed) {
          expect_(one, 'rtc:stop', {});
          one.gone = true;
          expect(one.closedWith).toBe(4000);
        }
        break;
      }
    }

    expect(newSince(before)).toEqual(expected);
    for (const { sent } of connections) {
      for (const { type, data } of sent) {
        const parsed = parseServerEvent(type, data);
        expect(parsed.ok, `${type} ${JSON.stringify(data)} parses as a server event`).toBe(true);
      }
    }
    const pools = POOLS.filter((pool) => members(pool).length > 0);
    expect(hub.stats()).toEqual({
      connections: live().length,
      endpoints: live().filter(({ pool }) => pool !== null).length,
      detached: 0,
      pools: pools.length,
      ...totals,
      pauses: 0,
      pausedMs: 0,
      rejectionsByReason: byReason,
    });
    expect(settled(hub.poolIds()).sort()).toEqual([...pools].sort());
  }
}

describe('Hub, model-checked', () => {
  test('every step delivers exactly what the model says, in parseable frames, and the counters agree', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => run(steps)),
      { numRuns: runs },
    );
  });

  test('a hand-picked run: relays across pools and to the departed are refused, inside the pool they pass', () => {
    run([
      { kind: 'open' },
      { kind: 'open' },
      { kind: 'open' },
      { kind: 'join', who: 0, pool: 0 },
      { kind: 'join', who: 1, pool: 0 },
      { kind: 'join', who: 2, pool: 1 },
      { kind: 'relay', who: 0, event: 'rtc:sdp', target: 1, spoof: true },
      { kind: 'relay', who: 0, event: 'rtc:sdp', target: 2, spoof: false },
      { kind: 'relay', who: 2, event: 'rtc:candidate', target: 0, spoof: true },
      { kind: 'describe', target: 0 },
      { kind: 'leave', who: 1 },
      { kind: 'relay', who: 0, event: 'rtc:candidate', target: 1, spoof: false },
      { kind: 'stop', pool: 0 },
      { kind: 'relay', who: 0, event: 'rtc:sdp', target: 0, spoof: false },
    ]);
  });
});
