/**
 * Hostile input against the hub: an attacker in pool "a" sends arbitrary and
 * adversarial frames (not JSON, huge, deeply nested, wrong types, spoofed
 * `peer`/`from`, relays to another pool's ids, describe attempts). After
 * every frame: the hub has not thrown; the attacker got at most one frame
 * back, and an invalid frame got exactly one `rtc:error` with a reason;
 * nothing reached pool "b"; whatever reached the attacker's pool mate names
 * the attacker as sender. After each run, an honest pair in pool "a" still
 * relays to each other. A stranger that never joined sends forged
 * `rtc:resume`s for the members' ids (guessed tokens, right-looking lengths,
 * wild counts): each is refused with `resume-refused` and takes nothing over.
 * RTCPOOL_HUB_FUZZ_FRAMES sets the total (default 100,000).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseClientFrame } from '../../src/protocol/index.js';
import type { Endpoint, Link } from '../../src/server/sessions.js';
import { settled, testHub } from '../support/server-hub.js';

const TOTAL = Math.max(1_000, Number(process.env.RTCPOOL_HUB_FUZZ_FRAMES ?? 100_000));
const PER_RUN = 100;
const MAX_BYTES = 64 * 1024;

interface Client {
  endpoint: Endpoint;
  frames: Array<{ type: string; data: Record<string, unknown> }>;
  closed: number | null;
}

function setup() {
  const hub = testHub({ resumeWindowMs: 60_000 });
  const connect = (pool: string | null): Client => {
    const client: Client = { endpoint: undefined as never, frames: [], closed: null };
    const link: Link = {
      send: (type, data) => client.frames.push({ type, data }),
      close: (code) => {
        client.closed = code;
      },
      terminate: () => undefined,
      ping: () => undefined,
    };
    client.endpoint = hub.open(link, { identity: undefined, request: undefined as never, transport: 'websocket' });
    if (pool !== null) {
      hub.receive(client.endpoint, () => parseClientFrame(JSON.stringify({ type: 'rtc:join', data: { pool } })));
    }
    return client;
  };
  const mate = connect('a');
  const other = connect('b');
  const attacker = connect('a');
  const stranger = connect(null);
  for (const client of [mate, other, attacker, stranger]) client.frames.length = 0;
  return {
    hub,
    mate,
    other,
    attacker,
    stranger,
    ids: [mate, other, attacker].map((client) => client.endpoint.id as string),
  };
}

/** A forged `rtc:resume` for one of `ids`: a random token, often of a real token's length and alphabet. */
function forgedResume(ids: string[]): fc.Arbitrary<string> {
  const token = fc.oneof(
    fc.string({
      unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
      minLength: 32,
      maxLength: 32,
    }),
    fc.string({ maxLength: 64 }),
    fc.anything(),
  );
  return fc
    .record({ id: fc.oneof(fc.constantFrom(...ids), fc.string()), token, received: fc.oneof(fc.nat(), fc.anything()) })
    .map((data) => JSON.stringify({ type: 'rtc:resume', data }) ?? '{}');
}

const description = fc.record({
  type: fc.constantFrom('offer', 'answer', 'pranswer', 'rollback', 'bogus'),
  sdp: fc.string(),
});
const candidate = fc.oneof(
  fc.constant(null),
  fc.record({ candidate: fc.string(), sdpMid: fc.string(), sdpMLineIndex: fc.nat(3) }),
);
const deep = fc.nat({ max: 200 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth));

/** A frame as raw text, built from the ids it may aim at. */
function frame(ids: string[]): fc.Arbitrary<string | Uint8Array> {
  const target = fc.oneof(fc.constantFrom(...ids), fc.string({ maxLength: 200 }), fc.anything());
  const relay = fc
    .record({
      type: fc.constantFrom(
        'rtc:sdp',
        'rtc:candidate',
        'rtc:describe',
        'rtc:join',
        'rtc:joined',
        'rtc:offer',
        'describe',
      ),
      data: fc.record(
        {
          to: target,
          for: target,
          peer: target,
          from: target,
          id: target,
          pool: fc.oneof(fc.constantFrom('a', 'b'), fc.string()),
          description: fc.oneof(description, fc.anything()),
          candidate: fc.oneof(candidate, fc.anything()),
        },
        { requiredKeys: [] },
      ),
    })
    .map((value) => JSON.stringify(value));
  // Well-formed relays with spoofed senders, aimed at the pool mate, the other pool, itself or nobody.
  const spoofed = fc
    .record({
      to: fc.oneof(fc.constantFrom(...ids), fc.string({ minLength: 1, maxLength: 20 })),
      spoof: fc.constantFrom(...ids),
      sdp: fc.boolean(),
      sdpText: fc.string(),
    })
    .map(({ to, spoof, sdp, sdpText }) =>
      JSON.stringify(
        sdp
          ? { type: 'rtc:sdp', data: { to, peer: spoof, from: spoof, description: { type: 'offer', sdp: sdpText } } }
          : { type: 'rtc:candidate', data: { for: to, from: spoof, peer: spoof, candidate: null } },
      ),
    );
  return fc.oneof(
    { weight: 4, arbitrary: spoofed },
    { weight: 6, arbitrary: relay },
    { weight: 2, arbitrary: fc.string({ maxLength: 300 }) },
    { weight: 2, arbitrary: fc.json() },
    {
      weight: 1,
      arbitrary: fc.anything().map((value) => JSON.stringify({ type: 'rtc:sdp', data: value }) ?? 'undefined'),
    },
    { weight: 1, arbitrary: deep.map((nested) => `{"type":"rtc:sdp","data":{"to":"x","description":${nested}}}`) },
    { weight: 1, arbitrary: fc.nat({ max: 3 }).map((extra) => 'x'.repeat(MAX_BYTES + extra)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  );
}

describe('the hub under hostile frames', () => {
  test(`${TOTAL.toLocaleString('en')} frames: no crash, one rtc:error per bad frame, nothing across pools`, () => {
    let frames = 0;
    let relayed = 0;
    let rejected = 0;
    // The ids are per hub: build each run's hub first, then generate frames aimed at its ids.
    const runs = Math.ceil(TOTAL / PER_RUN);
    for (let run = 0; run < runs; run++) {
      const { hub, mate, other, attacker, stranger, ids } = setup();
      const [raws] = fc.sample(fc.array(frame(ids), { minLength: PER_RUN, maxLength: PER_RUN }), {
        numRuns: 1,
        seed: run,
      });
      const [forgeries] = fc.sample(fc.array(forgedResume(ids), { minLength: PER_RUN / 10, maxLength: PER_RUN / 10 }), {
        numRuns: 1,
        seed: run,
      });
      for (const raw of forgeries ?? []) {
        frames += 1;
        const before = stranger.frames.length;
        hub.receive(stranger.endpoint, () => parseClientFrame(raw));
        expect(stranger.frames.slice(before)).toEqual([
          { type: 'rtc:error', data: { message: expect.any(String), reason: expect.any(String) } },
        ]);
        const reason = stranger.frames[before]?.data.reason;
        expect(['resume-refused', 'invalid-field', 'malformed-frame']).toContain(reason);
        expect(stranger.endpoint.id).toBeNull();
        if (reason === 'resume-refused') rejected += 1;
      }
      expect([mate, other, attacker].map((client) => client.closed)).toEqual([null, null, null]);
      for (const raw of raws ?? []) {
        frames += 1;
        const before = attacker.frames.length;
        const mateBefore = mate.frames.length;
        const parsed = parseClientFrame(raw, { maxFrameBytes: MAX_BYTES });
        expect(() =>
          hub.receive(attacker.endpoint, () => parseClientFrame(raw, { maxFrameBytes: MAX_BYTES })),
        ).not.toThrow();
        const replies = attacker.frames.slice(before);
        expect(replies.length).toBeLessThanOrEqual(1);
        if (!parsed.ok) {
          expect(replies).toEqual([
            { type: 'rtc:error', data: { message: expect.any(String), reason: parsed.error.code } },
          ]);
        }
        expect(other.frames).toEqual([]);
        for (const received of mate.frames) {
          expect(['rtc:sdp', 'rtc:candidate']).toContain(received.type);
          expect(received.data.peer ?? received.data.from).toBe(attacker.endpoint.id);
        }
        expect(attacker.closed).toBeNull();
        if (mate.frames.length > mateBefore) relayed += 1;
        if (replies[0]?.type === 'rtc:error') rejected += 1;
      }
      // The well-behaved client is unaffected: its relay still goes through, named as its own.
      const before = attacker.frames.length;
      hub.receive(mate.endpoint, () =>
        parseClientFrame(JSON.stringify({ type: 'rtc:candidate', data: { for: ids[2], candidate: null } })),
      );
      expect(attacker.frames.slice(before)).toEqual([
        { type: 'rtc:candidate', data: { from: ids[0], candidate: null } },
      ]);
      expect(mate.frames.filter((received) => received.type === 'rtc:error')).toEqual([]);
      expect(
        settled(hub.pool('a'))
          ?.map((member) => member.id)
          .sort(),
      ).toEqual([ids[0], ids[2]].sort());
      expect(settled(hub.pool('b'))?.map((member) => member.id)).toEqual([ids[1]]);
    }
    expect(frames).toBeGreaterThanOrEqual(TOTAL);
    // Both verdicts were common: the generator reached the relay path, not only the parser's refusals.
    expect(relayed).toBeGreaterThan(frames / 50);
    expect(rejected).toBeGreaterThan(frames / 2);
    console.log(`hub fuzz: ${frames} frames, ${relayed} relayed to the pool mate, ${rejected} refused`);
  });
});
