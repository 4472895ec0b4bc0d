/**
 * Whatever a server sends (arbitrary text, JSON, near-valid frames of every
 * event, binary, any JavaScript value a socket library might hand over), a
 * WebSocketTransceiver never throws out of its message listener, and its
 * Signalling answers every frame with exactly one message or one error, and
 * stays open. A failure prints fast-check's seed and path; replay it with
 * RTCPOOL_PROPERTY_SEED=<seed> RTCPOOL_PROPERTY_PATH=<path>.
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { LEGACY_SERVER_EVENTS, SERVER_EVENTS, SignallingError } from '../../src/protocol/index.js';
import { Signalling } from '../../src/signalling/index.js';
import { FakeWebSocket } from './fake-websocket.js';
import { version1, version2 } from './frames.js';
import { record } from './record.js';

const params = (numRuns: number): fc.Parameters<[unknown[], number | null]> => {
  const chosen: fc.Parameters<[unknown[], number | null]> = { numRuns };
  if (process.env.RTCPOOL_PROPERTY_SEED) chosen.seed = Number(process.env.RTCPOOL_PROPERTY_SEED);
  if (process.env.RTCPOOL_PROPERTY_PATH) chosen.path = process.env.RTCPOOL_PROPERTY_PATH;
  return chosen;
};

const type = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SERVER_EVENTS, ...LEGACY_SERVER_EVENTS) },
  { weight: 1, arbitrary: fc.constantFrom('error', 'close', '__proto__', 'constructor', 'toString', '') },
  { weight: 1, arbitrary: fc.string() },
);
const id = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('ada', 'bob') },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
/** Data built from the protocol's field names, each present or not, valid or not. */
const data = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        id,
        uid: id,
        for: id,
        peer: id,
        from: id,
        client_id: id,
        peers: fc.oneof(fc.array(id, { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
        description: fc.oneof(
          fc.record({ type: fc.constantFrom('offer', 'answer', 'pranswer'), sdp: fc.string() }, { requiredKeys: [] }),
          fc.jsonValue({ maxDepth: 3 }),
        ),
        candidate: fc.oneof(
          fc.constant(null),
          fc.record(
            { candidate: fc.string(), sdpMid: fc.option(fc.string()), sdpMLineIndex: fc.jsonValue({ maxDepth: 0 }) },
            { requiredKeys: [] },
          ),
        ),
        message: fc.jsonValue({ maxDepth: 0 }),
        pool: fc.jsonValue({ maxDepth: 0 }),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const frame = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(...version1, ...version2).map(({ type, data }) => JSON.stringify({ type, data })),
  },
  { weight: 6, arbitrary: fc.record({ type, data }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.record({ type, data }, { requiredKeys: [] }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary' }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.anything() },
);

test('arbitrary frames never throw and each yields exactly one message or one error', () => {
  const codes = new Map<string, number>();
  fc.assert(
    fc.property(
      fc.array(frame, { maxLength: 20 }),
      fc.option(fc.integer({ min: 0, max: 512 }), { freq: 4 }),
      (frames, maxFrameBytes) => {
        const socket = new FakeWebSocket(1);
        const signalling = new Signalling.websocket(socket, maxFrameBytes === null ? {} : { maxFrameBytes });
        const recording = record(signalling);
        for (const [index, raw] of frames.entries()) {
          expect(() => socket.deliver(raw)).not.toThrow();
          expect(recording.messages.length + recording.errors.length).toBe(index + 1);
        }
        for (const error of recording.errors) {
          expect(error).toBeInstanceOf(SignallingError);
          codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        }
        codes.set('ok', (codes.get('ok') ?? 0) + recording.messages.length);
        expect(recording.completed).toEqual({ messages: false, errors: false });
        signalling.close();
      },
    ),
    params(1_000),
  );
  // Not degenerate: every outcome happened.
  for (const outcome of ['ok', 'malformed-frame', 'unknown-event', 'invalid-field', 'frame-too-large']) {
    expect(codes.get(outcome), outcome).toBeGreaterThan(0);
  }
});
