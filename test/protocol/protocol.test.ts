/**
 * The wire protocol by example: every message in both dialects, round trips,
 * every error code, the limits, and hostile input. Fuzzing lives in
 * `protocol.fuzz.test.ts`.
 */
import { describe, expect, test } from 'vitest';
import {
  type ClientMessage,
  candidateMessage,
  encodeFrame,
  joinMessage,
  type ParseOptions,
  PROTOCOL_LIMITS,
  parseClientEvent,
  parseClientFrame,
  parseServerEvent,
  parseServerFrame,
  pingMessage,
  type ServerMessage,
  SignallingError,
  sdpMessage,
} from '../../src/protocol/index.js';

const frame = (type: string, data: unknown): string => JSON.stringify({ type, data });

function server(raw: unknown, options?: ParseOptions): ServerMessage {
  const result = parseServerFrame(raw, options);
  if (!result.ok) throw result.error;
  return result.message;
}

function serverError(raw: unknown, options?: ParseOptions): SignallingError {
  const result = parseServerFrame(raw, options);
  if (result.ok) throw new Error(`expected an error, got ${encodeFrame(result.message)}`);
  expect(result.error).toBeInstanceOf(SignallingError);
  return result.error;
}

function client(raw: unknown): ClientMessage {
  const result = parseClientFrame(raw);
  if (!result.ok) throw result.error;
  return result.message;
}

function clientError(raw: unknown): SignallingError {
  const result = parseClientFrame(raw);
  if (result.ok) throw new Error(`expected an error, got ${encodeFrame(result.message)}`);
  return result.error;
}

const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' } as const;
const answer = { type: 'answer', sdp: 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n' } as const;
const hostCandidate = {
  candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host',
  sdpMid: '0',
  sdpMLineIndex: 0,
  usernameFragment: 'abcd',
};

describe('server messages, version 2', () => {
  test('rtc:joined', () => {
    const message = server(
      frame('rtc:joined', {
        client_id: 'me',
        peers: ['a', 'b'],
        descriptions: { a: { name: 'Ada' }, me: [1, 'two', null] },
        pool: 'room-1',
      }),
    );
    expect(message).toEqual({
      type: 'rtc:joined',
      data: {
        client_id: 'me',
        peers: ['a', 'b'],
        descriptions: { a: { name: 'Ada' }, b: null, me: [1, 'two', null] },
        pool: 'room-1',
      },
    });
  });

  test('rtc:joined descriptions has no prototype: a peer named toString reads null', () => {
    const message = server(frame('rtc:joined', { client_id: 'me', peers: ['toString'], pool: 'p' }));
    if (message.type !== 'rtc:joined') throw new Error(message.type);
    expect(message.data.descriptions.toString).toBeNull();
    expect(message.data.descriptions.hasOwnProperty).toBeUndefined();
  });

  test('rtc:joined keeps a description keyed __proto__ as data, not as a prototype', () => {
    const message = server(
      '{"type":"rtc:joined","data":{"client_id":"me","peers":["__proto__"],"descriptions":{"__proto__":{"x":1}}}}',
    );
    if (message.type !== 'rtc:joined') throw new Error(message.type);
    expect(Object.getPrototypeOf(message.data.descriptions)).toBeNull();
    expect(Object.entries(message.data.descriptions)).toEqual([['__proto__', { x: 1 }]]);
  });

  test('rtc:peer', () => {
    expect(server(frame('rtc:peer', { id: 'b' }))).toEqual({ type: 'rtc:peer', data: { id: 'b' } });
    expect(server(frame('rtc:peer', { id: 'b', uid: 'b' }))).toEqual({ type: 'rtc:peer', data: { id: 'b' } });
  });

  test('rtc:sdp', () => {
    expect(server(frame('rtc:sdp', { peer: 'a', description: offer }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: offer },
    });
    expect(server(frame('rtc:sdp', { peer: 'a', description: answer }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: answer },
    });
  });

  test('rtc:candidate, including end-of-candidates as null and as an empty candidate', () => {
    expect(server(frame('rtc:candidate', { from: 'a', candidate: hostCandidate }))).toEqual({
      type: 'rtc:candidate',
      data: { from: 'a', candidate: hostCandidate },
    });
    expect(server(frame('rtc:candidate', { from: 'a', candidate: null }))).toEqual({
      type: 'rtc:candidate',
      data: { from: 'a', candidate: null },
    });
    expect(server(frame('rtc:candidate', { from: 'a', candidate: { candidate: '' } }))).toEqual({
      type: 'rtc:candidate',
      data: { from: 'a', candidate: { candidate: '' } },
    });
    const withNulls = { candidate: 'candidate:x', sdpMid: null, sdpMLineIndex: 1, usernameFragment: null };
    expect(server(frame('rtc:candidate', { from: 'a', candidate: withNulls }))).toEqual({
      type: 'rtc:candidate',
      data: { from: 'a', candidate: withNulls },
    });
  });

  test('rtc:close with id, uid, or both (PyRTC sends both)', () => {
    const closed = { type: 'rtc:close', data: { id: 'a' } };
    expect(server(frame('rtc:close', { id: 'a' }))).toEqual(closed);
    expect(server(frame('rtc:close', { uid: 'a' }))).toEqual(closed);
    expect(server(frame('rtc:close', { id: 'a', uid: 'a' }))).toEqual(closed);
  });

  test('rtc:stop', () => {
    expect(server(frame('rtc:stop', {}))).toEqual({ type: 'rtc:stop', data: {} });
  });

  test('rtc:pong, and rtc:joined saying the server answers pings (a boolean, or absent)', () => {
    expect(server(frame('rtc:pong', { extra: 1 }))).toStrictEqual({ type: 'rtc:pong', data: {} });
    const joined = { client_id: 'me', peers: [], descriptions: {}, pool: 'p' };
    const parsed = server(frame('rtc:joined', { ...joined, answers_ping: true }));
    expect(parsed.type === 'rtc:joined' && parsed.data.answers_ping).toBe(true);
    const absent = server(frame('rtc:joined', joined));
    expect(absent.type === 'rtc:joined' && 'answers_ping' in absent.data).toBe(false);
    const refused = serverError(frame('rtc:joined', { ...joined, answers_ping: 'yes' }));
    expect(refused).toMatchObject({ code: 'invalid-field', field: 'data.answers_ping' });
  });

  test('rtc:describe with any JSON description, null included', () => {
    for (const description of [null, { name: 'Ada', tags: ['x'] }, 'text', 42, true, [1, [2, [3]]]]) {
      expect(server(frame('rtc:describe', { id: 'a', description }))).toEqual({
        type: 'rtc:describe',
        data: { id: 'a', description },
      });
    }
  });

  test('rtc:error with and without a reason', () => {
    expect(server(frame('rtc:error', { message: 'No such pool exists.', pool: 'x' }))).toEqual({
      type: 'rtc:error',
      data: { message: 'No such pool exists.' },
    });
    expect(server(frame('rtc:error', { message: 'bad', reason: 'invalid-field' }))).toEqual({
      type: 'rtc:error',
      data: { message: 'bad', reason: 'invalid-field' },
    });
    expect(server(frame('rtc:error', { message: 'bad', reason: null }))).toEqual({
      type: 'rtc:error',
      data: { message: 'bad' },
    });
  });

  test('unknown fields are dropped', () => {
    expect(server(frame('rtc:peer', { id: 'b', extra: { deep: [1] } }))).toEqual({
      type: 'rtc:peer',
      data: { id: 'b' },
    });
    expect(server(frame('rtc:sdp', { peer: 'a', description: { ...offer, extra: 1 } }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: offer },
    });
    expect(server(frame('rtc:candidate', { from: 'a', candidate: { ...hostCandidate, foundation: '1' } }))).toEqual({
      type: 'rtc:candidate',
      data: { from: 'a', candidate: hostCandidate },
    });
    expect(server(`{"type":"rtc:stop","data":{"x":1},"extra":1}`)).toEqual({ type: 'rtc:stop', data: {} });
  });
});

describe('server messages, version 1 (as PyRTC 1.x sent them)', () => {
  test('rtc:joined without descriptions or pool', () => {
    expect(server(frame('rtc:joined', { client_id: 'me', peers: ['a'] }))).toEqual({
      type: 'rtc:joined',
      data: { client_id: 'me', peers: ['a'], descriptions: { a: null }, pool: null },
    });
    expect(server(frame('rtc:joined', { client_id: 'me', peers: [], pool: 'room' }))).toEqual({
      type: 'rtc:joined',
      data: { client_id: 'me', peers: [], descriptions: {}, pool: 'room' },
    });
  });

  test('rtc:request_offers { for } becomes rtc:peer; { id } and { uid } are accepted too', () => {
    for (const data of [{ for: 'b' }, { id: 'b' }, { uid: 'b' }, { for: 'b', id: 'b' }]) {
      expect(server(frame('rtc:request_offers', data))).toEqual({ type: 'rtc:peer', data: { id: 'b' } });
    }
  });

  test('rtc:offer { for, offer } and rtc:answer { for, answer } become rtc:sdp', () => {
    expect(server(frame('rtc:offer', { for: 'a', offer }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: offer },
    });
    expect(server(frame('rtc:answer', { for: 'a', answer }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: answer },
    });
  });

  test('rtc:offer and rtc:answer also accept the version 2 spellings peer, from and description', () => {
    expect(server(frame('rtc:offer', { peer: 'a', description: offer }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: offer },
    });
    expect(server(frame('rtc:answer', { from: 'a', answer }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: answer },
    });
    expect(server(frame('rtc:offer', { for: 'a', peer: 'a', offer }))).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: offer },
    });
  });

  test('rtc:offer and rtc:answer refuse forms that would need a guess', () => {
    const cases: Array<[string, unknown, string]> = [
      ['rtc:offer', { for: 'a', offer: answer }, 'data.offer.type'],
      ['rtc:answer', { for: 'a', answer: offer }, 'data.answer.type'],
      ['rtc:offer', { for: 'a', answer: offer }, 'data.description'],
      ['rtc:offer', { for: 'a', sdp: offer.sdp }, 'data.description'],
      ['rtc:offer', { for: 'a', offer: { sdp: offer.sdp } }, 'data.offer.type'],
      ['rtc:offer', { id: 'a', offer }, 'data.for|peer|from'],
      ['rtc:offer', { for: 'a', peer: 'b', offer }, 'data.peer'],
      ['rtc:offer', { for: 'a', offer, description: offer }, 'data.offer'],
    ];
    for (const [type, data, field] of cases) {
      const error = serverError(frame(type, data));
      expect(error.code).toBe('invalid-field');
      expect(error.field).toBe(field);
      expect(error.message).toContain(field);
    }
  });

  test('rtc:close { uid } and rtc:describe { uid, description }', () => {
    expect(server(frame('rtc:close', { uid: 'a' }))).toEqual({ type: 'rtc:close', data: { id: 'a' } });
    expect(server(frame('rtc:describe', { uid: 'a', description: { x: 1 } }))).toEqual({
      type: 'rtc:describe',
      data: { id: 'a', description: { x: 1 } },
    });
  });

  test('v1 rtc:candidate { candidate, from } is the same as v2', () => {
    expect(server(frame('rtc:candidate', { candidate: hostCandidate, from: 'a' }))).toEqual({
      type: 'rtc:candidate',
      data: { from: 'a', candidate: hostCandidate },
    });
  });
});

describe('client messages (version 2)', () => {
  test('constructors build what the parser accepts', () => {
    expect(joinMessage('room')).toEqual({ type: 'rtc:join', data: { pool: 'room' } });
    expect(sdpMessage('b', offer)).toEqual({ type: 'rtc:sdp', data: { to: 'b', description: offer } });
    expect(candidateMessage('b', hostCandidate)).toEqual({
      type: 'rtc:candidate',
      data: { for: 'b', candidate: hostCandidate },
    });
    expect(candidateMessage('b', null)).toEqual({ type: 'rtc:candidate', data: { for: 'b', candidate: null } });
    expect(pingMessage()).toEqual({ type: 'rtc:ping', data: {} });
    expect(client(encodeFrame(pingMessage()))).toEqual(pingMessage());
  });

  test('encodeFrame writes { type, data } as JSON text', () => {
    expect(encodeFrame(joinMessage('room'))).toBe('{"type":"rtc:join","data":{"pool":"room"}}');
  });

  test('round trips: encode -> parse gives the message back', () => {
    for (const message of [
      joinMessage('room'),
      sdpMessage('b', offer),
      sdpMessage('b', answer),
      candidateMessage('b', hostCandidate),
      candidateMessage('b', { candidate: '' }),
      candidateMessage('b', null),
    ]) {
      expect(client(encodeFrame(message))).toEqual(message);
      expect(parseClientEvent(message.type, message.data)).toEqual({ ok: true, message });
    }
  });

  test('the original 3.x client also sends `from` in rtc:candidate: ignored', () => {
    expect(client(frame('rtc:candidate', { from: 'me', for: 'b', candidate: null }))).toEqual(
      candidateMessage('b', null),
    );
  });

  test('version 1 client events and server events are unknown events from a client', () => {
    for (const type of ['rtc:offers', 'rtc:answer', 'rtc:joined', 'rtc:peer', 'describe']) {
      expect(clientError(frame(type, {})).code).toBe('unknown-event');
    }
  });

  test('a client-set description is a forbidden event, whatever its data', () => {
    for (const data of [{}, { id: 'me', description: { role: 'admin' } }]) {
      const error = clientError(frame('rtc:describe', data));
      expect(error.code).toBe('forbidden-event');
      expect(error.message).toMatch(/server only/);
    }
  });

  test('server-only fields do not make a client message', () => {
    expect(clientError(frame('rtc:sdp', { peer: 'b', description: offer })).field).toBe('data.to');
    expect(clientError(frame('rtc:candidate', { from: 'b', candidate: null })).field).toBe('data.for');
    expect(clientError(frame('rtc:join', {})).field).toBe('data.pool');
  });
});

describe('round trips of server messages', () => {
  const messages: ServerMessage[] = [
    {
      type: 'rtc:joined',
      data: { client_id: 'me', peers: ['a'], descriptions: { a: { n: [1, { m: null }] } }, pool: 'p' },
    },
    { type: 'rtc:joined', data: { client_id: 'me', peers: [], descriptions: {}, pool: null } },
    { type: 'rtc:peer', data: { id: 'a' } },
    { type: 'rtc:sdp', data: { peer: 'a', description: offer } },
    { type: 'rtc:candidate', data: { from: 'a', candidate: hostCandidate } },
    { type: 'rtc:candidate', data: { from: 'a', candidate: null } },
    { type: 'rtc:close', data: { id: 'a' } },
    { type: 'rtc:stop', data: {} },
    { type: 'rtc:describe', data: { id: 'a', description: null } },
    { type: 'rtc:describe', data: { id: 'a', description: { deep: { er: [true, 1.5, 'x'] } } } },
    { type: 'rtc:error', data: { message: 'nope' } },
    { type: 'rtc:error', data: { message: 'nope', reason: 'invalid-field' } },
    { type: 'rtc:pong', data: {} },
  ];

  test.each(messages.map((message) => [message.type, message] as const))('%s', (_type, message) => {
    expect(server(encodeFrame(message))).toEqual(message);
    expect(server(JSON.parse(encodeFrame(message)))).toEqual(message);
    expect(parseServerEvent(message.type, message.data)).toEqual({ ok: true, message });
    expect(server(new TextEncoder().encode(encodeFrame(message)))).toEqual(message);
  });
});

describe('error codes', () => {
  test('malformed-frame: not JSON, not an object, no string type, data not an object', () => {
    const cases: unknown[] = [
      '',
      '{',
      'not json',
      'null',
      '[]',
      '42',
      '"rtc:stop"',
      '{"data":{}}',
      '{"type":1,"data":{}}',
      '{"type":"rtc:stop"}',
      '{"type":"rtc:stop","data":null}',
      '{"type":"rtc:stop","data":[]}',
      '{"type":"rtc:stop","data":"x"}',
      null,
      undefined,
      42,
      true,
      Symbol('x'),
      () => 1,
      [],
      new Uint8Array([0xff, 0xfe, 0x00]),
    ];
    for (const raw of cases) expect(serverError(raw).code).toBe('malformed-frame');
    expect(clientError('{').code).toBe('malformed-frame');
  });

  test('unknown-event names the event', () => {
    const error = serverError(frame('rtc:dance', {}));
    expect(error.code).toBe('unknown-event');
    expect(error.message).toContain('rtc:dance');
    expect(serverError(frame('toString', {})).code).toBe('unknown-event');
    expect(serverError(frame('__proto__', {})).code).toBe('unknown-event');
    expect(serverError(frame('rtc:join', { pool: 'p' })).code).toBe('unknown-event');
    expect(serverError(frame('x'.repeat(10_000), {})).message.length).toBeLessThan(200);
  });

  test('invalid-field names the event and the field', () => {
    const error = serverError(frame('rtc:sdp', { peer: 'a', description: { type: 'offer', sdp: 42 } }));
    expect(error).toMatchObject({ code: 'invalid-field', field: 'data.description.sdp', name: 'SignallingError' });
    expect(error.message).toBe('rtc:sdp: data.description.sdp must be a non-empty string of at most 262144 characters');
  });

  test('frame-too-large is decided before parsing', () => {
    const big = frame('rtc:error', { message: 'x'.repeat(PROTOCOL_LIMITS.maxFrameBytes) });
    expect(serverError(big).code).toBe('frame-too-large');
    expect(clientError(big).code).toBe('frame-too-large');
    expect(serverError(new TextEncoder().encode(big)).code).toBe('frame-too-large');
    expect(serverError(`{${'x'.repeat(100)}`, { maxFrameBytes: 50 }).code).toBe('frame-too-large');
  });

  test('the error is an Error with a stable code and the cause of a JSON failure', () => {
    const error = serverError('{');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SignallingError');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });
});

describe('field validation', () => {
  const id128 = 'i'.repeat(128);
  const id129 = 'i'.repeat(129);

  test('ids are non-empty strings of at most 128 characters', () => {
    expect(server(frame('rtc:peer', { id: id128 }))).toEqual({ type: 'rtc:peer', data: { id: id128 } });
    for (const id of ['', id129, 1, null, ['a'], { id: 'a' }]) {
      expect(serverError(frame('rtc:peer', { id })).field).toBe('data.id');
    }
    expect(serverError(frame('rtc:peer', {})).field).toBe('data.id|uid');
    expect(serverError(frame('rtc:close', { id: 'a', uid: 'b' })).field).toBe('data.uid');
    expect(clientError(frame('rtc:sdp', { to: id129, description: offer })).field).toBe('data.to');
  });

  test('pool names are non-empty strings of at most 256 characters', () => {
    expect(client(frame('rtc:join', { pool: 'p'.repeat(256) }))).toEqual(joinMessage('p'.repeat(256)));
    for (const pool of ['', 'p'.repeat(257), 7, null]) {
      expect(clientError(frame('rtc:join', { pool })).field).toBe('data.pool');
    }
    expect(serverError(frame('rtc:joined', { client_id: 'me', peers: [], pool: '' })).field).toBe('data.pool');
  });

  test('rtc:joined: peers are distinct ids other than client_id; descriptions are keyed by ids', () => {
    const joined = (data: object) => serverError(frame('rtc:joined', { client_id: 'me', peers: [], ...data }));
    expect(serverError(frame('rtc:joined', { peers: [] })).field).toBe('data.client_id');
    expect(joined({ peers: 'a' }).field).toBe('data.peers');
    expect(joined({ peers: ['a', 'a'] }).field).toBe('data.peers[1]');
    expect(joined({ peers: ['me'] }).field).toBe('data.peers[0]');
    expect(joined({ peers: ['a', 7] }).field).toBe('data.peers[1]');
    expect(joined({ descriptions: [] }).field).toBe('data.descriptions');
    expect(joined({ descriptions: 'x' }).field).toBe('data.descriptions');
    expect(joined({ descriptions: { '': 1 } }).field).toBe('data.descriptions (each key)');
    expect(joined({ descriptions: { [id129]: 1 } }).field).toBe('data.descriptions (each key)');
    const sparse: unknown[] = [];
    sparse.length = 1e9;
    const result = parseServerEvent('rtc:joined', { client_id: 'me', peers: sparse });
    expect(result.ok || result.error.field).toBe('data.peers[0]');
  });

  test('descriptions: type offer or answer, sdp a non-empty string of at most 256 KiB', () => {
    const sdpFrame = (description: unknown) => frame('rtc:sdp', { peer: 'a', description });
    const roomy = { maxFrameBytes: 1024 * 1024 };
    const maxSdp = 's'.repeat(PROTOCOL_LIMITS.maxSdpLength);
    expect(server(sdpFrame({ type: 'offer', sdp: maxSdp }), roomy)).toEqual({
      type: 'rtc:sdp',
      data: { peer: 'a', description: { type: 'offer', sdp: maxSdp } },
    });
    const cases: Array<[unknown, string]> = [
      [{ type: 'offer', sdp: `${maxSdp}s` }, 'data.description.sdp'],
      [{ type: 'offer', sdp: '' }, 'data.description.sdp'],
      [{ type: 'offer' }, 'data.description.sdp'],
      [{ type: 'rollback', sdp: 'x' }, 'data.description.type'],
      [{ type: 'pranswer', sdp: 'x' }, 'data.description.type'],
      [{ sdp: 'x' }, 'data.description.type'],
      ['v=0', 'data.description'],
      [null, 'data.description'],
    ];
    for (const [description, field] of cases) expect(serverError(sdpFrame(description), roomy).field).toBe(field);
  });

  test('candidates: string candidate of at most 4 KiB; sdpMid, sdpMLineIndex, usernameFragment checked', () => {
    const candidateFrame = (candidate: unknown) => frame('rtc:candidate', { from: 'a', candidate });
    const ok = (candidate: object) => expect(server(candidateFrame(candidate)).type).toBe('rtc:candidate');
    ok({ candidate: 'c'.repeat(4096), sdpMid: '0' });
    ok({ candidate: 'c', sdpMLineIndex: 65535 });
    ok({ candidate: 'c', sdpMid: '', usernameFragment: '' });
    const cases: Array<[unknown, string]> = [
      [{ candidate: 'c'.repeat(4097), sdpMid: '0' }, 'data.candidate.candidate'],
      [{ sdpMid: '0' }, 'data.candidate.candidate'],
      [{ candidate: 1, sdpMid: '0' }, 'data.candidate.candidate'],
      [{ candidate: 'c', sdpMid: 0 }, 'data.candidate.sdpMid'],
      [{ candidate: 'c', sdpMid: 'm'.repeat(257) }, 'data.candidate.sdpMid'],
      [{ candidate: 'c', sdpMLineIndex: -1 }, 'data.candidate.sdpMLineIndex'],
      [{ candidate: 'c', sdpMLineIndex: 1.5 }, 'data.candidate.sdpMLineIndex'],
      [{ candidate: 'c', sdpMLineIndex: 65536 }, 'data.candidate.sdpMLineIndex'],
      [{ candidate: 'c', sdpMLineIndex: '0' }, 'data.candidate.sdpMLineIndex'],
      [{ candidate: 'c', sdpMid: '0', usernameFragment: 5 }, 'data.candidate.usernameFragment'],
      // addIceCandidate() would reject it: a non-empty candidate needs sdpMid or sdpMLineIndex.
      [{ candidate: 'c' }, 'data.candidate.sdpMid'],
      [{ candidate: 'c', sdpMid: null, sdpMLineIndex: null }, 'data.candidate.sdpMid'],
      ['candidate:1', 'data.candidate'],
      [[], 'data.candidate'],
    ];
    for (const [candidate, field] of cases) expect(serverError(candidateFrame(candidate)).field).toBe(field);
    expect(serverError(frame('rtc:candidate', { from: 'a' })).field).toBe('data.candidate');
  });

  test('rtc:error: message is a string, reason a string when present', () => {
    expect(serverError(frame('rtc:error', {})).field).toBe('data.message');
    expect(serverError(frame('rtc:error', { message: 1 })).field).toBe('data.message');
    expect(serverError(frame('rtc:error', { message: 'm', reason: 1 })).field).toBe('data.reason');
  });

  test('rtc:describe needs a description, which must be plain JSON', () => {
    const describe = (description: unknown) => parseServerEvent('rtc:describe', { id: 'a', description });
    expect(describe(undefined).ok).toBe(false);
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      () => 1,
      1n,
      Symbol('s'),
      new Date(),
      new Map(),
      [1, undefined],
    ]) {
      const result = describe(bad);
      expect(result.ok || result.error.field).toBe('data.description');
    }
    expect(describe({ a: [null, 0, -1.5, 'x', false, {}] }).ok).toBe(true);
    expect(describe(Object.create(null)).ok).toBe(true);
  });

  test('the message is a copy: later changes to the input do not reach it', () => {
    const data = { id: 'a', description: { list: [1, { x: 2 }] } };
    const result = parseServerEvent('rtc:describe', data);
    data.description.list.push(3);
    expect(result).toEqual({
      ok: true,
      message: { type: 'rtc:describe', data: { id: 'a', description: { list: [1, { x: 2 }] } } },
    });
  });

  test('fields are read from the object itself, never from its prototype', () => {
    expect(serverError(Object.create({ type: 'rtc:stop', data: {} })).code).toBe('malformed-frame');
    expect(parseServerEvent('rtc:peer', Object.create({ id: 'a' })).ok).toBe(false);
  });
});

describe('hostile input', () => {
  function nested(depth: number): unknown {
    let value: unknown = 'leaf';
    for (let i = 0; i < depth; i++) value = { next: value };
    return value;
  }

  test('descriptions nest at most 32 deep', () => {
    const describe = (description: unknown) => parseServerEvent('rtc:describe', { id: 'a', description });
    expect(describe(nested(PROTOCOL_LIMITS.maxDescriptionDepth)).ok).toBe(true);
    const result = describe(nested(PROTOCOL_LIMITS.maxDescriptionDepth + 1));
    expect(result.ok || result.error.message).toBe(
      'rtc:describe: data.description must be JSON nested at most 32 deep',
    );
  });

  test('a description nested 100,000 deep is refused without exhausting the stack', () => {
    expect(parseServerEvent('rtc:describe', { id: 'a', description: nested(100_000) }).ok).toBe(false);
    const deepText = `{"type":"rtc:describe","data":{"id":"a","description":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    const result = parseServerFrame(deepText, { maxFrameBytes: 1e6 });
    expect(result.ok || result.error.code).toBe('invalid-field');
    const deepData = parseServerFrame(
      `{"type":"rtc:peer","data":{"id":"a","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
      {
        maxFrameBytes: 1e6,
      },
    );
    expect(deepData).toEqual({ ok: true, message: { type: 'rtc:peer', data: { id: 'a' } } });
  });

  test('cycles are refused', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(parseServerEvent('rtc:describe', { id: 'a', description: cycle }).ok).toBe(false);
    const wide: unknown[] = [];
    for (let i = 0; i < 10; i++) wide.push(wide);
    expect(parseServerEvent('rtc:describe', { id: 'a', description: wide }).ok).toBe(false);
  });

  test('all descriptions of one frame share a budget of values', () => {
    const wide = (n: number) => Array.from({ length: n }, () => 0);
    const describe = (description: unknown) => parseServerEvent('rtc:describe', { id: 'a', description });
    expect(describe(wide(PROTOCOL_LIMITS.maxDescriptionValues - 1)).ok).toBe(true);
    expect(describe(wide(PROTOCOL_LIMITS.maxDescriptionValues)).ok).toBe(false);
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    expect(describe(sparse).ok).toBe(false);
    const half = wide(PROTOCOL_LIMITS.maxDescriptionValues / 2);
    const joined = parseServerEvent('rtc:joined', { client_id: 'me', peers: [], descriptions: { a: half, b: half } });
    expect(joined.ok).toBe(false);
  });

  test('a frame whose properties throw when read gives malformed-frame', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        getOwnPropertyDescriptor() {
          throw new Error('boom');
        },
      },
    );
    const error = serverError(hostile);
    expect(error.code).toBe('malformed-frame');
    expect(error.cause).toEqual(new Error('boom'));
    const booby = new Proxy(
      { key: 1 },
      {
        get: () => {
          throw new Error('boom');
        },
      },
    );
    expect(parseServerEvent('rtc:describe', { id: 'a', description: booby })).toMatchObject({
      ok: false,
      error: { code: 'malformed-frame' },
    });
    const revocable = Proxy.revocable([], {});
    revocable.revoke();
    expect(serverError(revocable.proxy).code).toBe('malformed-frame');
  });

  test('frame size counts UTF-8 bytes', () => {
    const text = frame('rtc:error', { message: 'é'.repeat(100) }); // 2 bytes each
    const bytes = new TextEncoder().encode(text).length;
    expect(parseServerFrame(text, { maxFrameBytes: bytes }).ok).toBe(true);
    expect(serverError(text, { maxFrameBytes: bytes - 1 }).code).toBe('frame-too-large');
    const astral = frame('rtc:error', { message: '😀'.repeat(50) }); // a surrogate pair is 4 bytes
    const astralBytes = new TextEncoder().encode(astral).length;
    expect(parseServerFrame(astral, { maxFrameBytes: astralBytes }).ok).toBe(true);
    expect(serverError(astral, { maxFrameBytes: astralBytes - 1 }).code).toBe('frame-too-large');
  });

  test('bytes (as ws delivers text) and ArrayBuffers are decoded as UTF-8', () => {
    const text = frame('rtc:peer', { id: 'ü' });
    const bytes = new TextEncoder().encode(text);
    expect(server(bytes)).toEqual({ type: 'rtc:peer', data: { id: 'ü' } });
    expect(server(bytes.buffer)).toEqual({ type: 'rtc:peer', data: { id: 'ü' } });
    expect(server(new DataView(bytes.buffer))).toEqual({ type: 'rtc:peer', data: { id: 'ü' } });
  });

  test('parseServerEvent survives a non-string type from an untyped transport', () => {
    expect(parseServerEvent(42 as unknown as string, {})).toMatchObject({
      ok: false,
      error: { code: 'malformed-frame' },
    });
    expect(parseClientEvent('rtc:join', 'room')).toMatchObject({ ok: false, error: { code: 'malformed-frame' } });
  });
});
