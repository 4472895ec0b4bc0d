/**
 * What a hostile or broken client cannot do: name itself as someone else,
 * reach an endpoint outside its pool (or tell whether one exists), set a
 * description, relay before joining, join twice, or crash its connection with
 * a malformed frame. Also the server's own `describe`, the only way a
 * description is ever set.
 */
import { describe, expect, test } from 'vitest';
import { parseClientFrame } from '../../src/protocol/index.js';
import { serverHarness } from '../support/server-client.js';

const harness = serverHarness();

const offer = { type: 'offer', sdp: 'v=0\r\n' };
const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0' };

describe('the server writes who sent what', () => {
  test('a spoofed peer/from in rtc:sdp is ignored: the target sees the real sender, and no extra field', async () => {
    const server = await harness.start();
    const [ada, bob, cid] = await harness.joined(server.url, 'room', 3);
    if (!ada || !bob || !cid) throw new Error('three members');
    ada.client.send('rtc:sdp', { to: bob.id, peer: cid.id, from: cid.id, uid: cid.id, description: offer });
    expect((await bob.client.next('rtc:sdp')).data).toStrictEqual({ peer: ada.id, description: offer });
  });

  test('a spoofed from/peer in rtc:candidate is ignored, as are extra fields in the candidate', async () => {
    const server = await harness.start();
    const [ada, bob, cid] = await harness.joined(server.url, 'room', 3);
    if (!ada || !bob || !cid) throw new Error('three members');
    ada.client.send('rtc:candidate', { for: bob.id, from: cid.id, peer: cid.id, candidate: { ...candidate, evil: 1 } });
    expect((await bob.client.next('rtc:candidate')).data).toStrictEqual({ from: ada.id, candidate });
  });
});

describe('relays stay inside the pool', () => {
  test('a relay to an id in another pool gets unknown-peer, exactly like a nonexistent id, and nothing reaches that endpoint', async () => {
    const server = await harness.start();
    const [attacker] = await harness.joined(server.url, 'mine', 1);
    const [victim, victimPeer] = await harness.joined(server.url, 'theirs', 2);
    if (!attacker || !victim || !victimPeer) throw new Error('members');

    attacker.client.send('rtc:sdp', { to: victim.id, description: offer });
    const foreign = await attacker.client.error();
    attacker.client.send('rtc:candidate', { for: victim.id, candidate });
    const foreignCandidate = await attacker.client.error();
    const missing = 'ffffffff-ffff-4fff-bfff-ffffffffffff';
    attacker.client.send('rtc:sdp', { to: missing, description: offer });
    const nowhere = await attacker.client.error();

    expect(foreign.reason).toBe('unknown-peer');
    expect(foreignCandidate.reason).toBe('unknown-peer');
    expect(nowhere.reason).toBe('unknown-peer');
    // Not even the wording tells the two apart.
    expect(foreign.message.replace(victim.id, '<id>')).toBe(nowhere.message.replace(missing, '<id>'));

    // The victim's own connection is the barrier: it has received all the server sent it before this answer.
    await victim.client.sync();
    expect(victim.client.frames.map(({ type }) => type)).toEqual(['rtc:joined', 'rtc:peer']);
    expect(victimPeer.client.frames.map(({ type }) => type)).toEqual(['rtc:joined']);
  });

  test('a relay to oneself gets unknown-peer', async () => {
    const server = await harness.start();
    const [ada] = await harness.joined(server.url, 'room', 1);
    if (!ada) throw new Error('a member');
    ada.client.send('rtc:sdp', { to: ada.id, description: offer });
    expect((await ada.client.error()).reason).toBe('unknown-peer');
    ada.client.send('rtc:candidate', { for: ada.id, candidate: null });
    expect((await ada.client.error()).reason).toBe('unknown-peer');
    expect(ada.client.all('rtc:sdp')).toEqual([]);
    expect(ada.client.all('rtc:candidate')).toEqual([]);
  });
});

describe('descriptions are set by the server only', () => {
  test('a client-sent rtc:describe gets forbidden-event and changes nobody’s description', async () => {
    const server = await harness.start();
    const [ada, bob] = await harness.joined(server.url, 'room', 2);
    if (!ada || !bob) throw new Error('two members');

    ada.client.send('rtc:describe', { id: ada.id, description: { admin: true } });
    expect((await ada.client.error()).reason).toBe('forbidden-event');
    ada.client.send('rtc:describe', { id: bob.id, uid: bob.id, description: 'pwned' });
    expect((await ada.client.error()).reason).toBe('forbidden-event');

    await bob.client.sync();
    expect(bob.client.all('rtc:describe')).toEqual([]);
    expect(await server.pool('room')).toEqual([
      { id: ada.id, description: null },
      { id: bob.id, description: null },
    ]);
    const later = await harness.raw(server.url);
    expect((await later.join('room')).descriptions).toStrictEqual({ [ada.id]: null, [bob.id]: null });
    // The connection still works.
    ada.client.send('rtc:sdp', { to: bob.id, description: offer });
    expect((await bob.client.next('rtc:sdp')).data.peer).toBe(ada.id);
  });

  test('server.describe(id, json): every other member gets rtc:describe {id, description}; a later joiner gets it in rtc:joined', async () => {
    const server = await harness.start();
    const [ada, bob, cid] = await harness.joined(server.url, 'room', 3);
    const [outsider] = await harness.joined(server.url, 'elsewhere', 1);
    if (!ada || !bob || !cid || !outsider) throw new Error('members');
    const description = { name: 'Ada', roles: ['host'], seat: 1, muted: false, nothing: null };

    expect(server.describe(ada.id, description)).toBe(true);
    for (const other of [bob, cid]) {
      expect((await other.client.next('rtc:describe')).data).toStrictEqual({ id: ada.id, description });
    }
    await Promise.all([ada.client.sync(), outsider.client.sync()]);
    expect(ada.client.all('rtc:describe')).toEqual([]);
    expect(outsider.client.all('rtc:describe')).toEqual([]);

    // A second description replaces the first.
    expect(server.describe(ada.id, 'plain string')).toBe(true);
    expect((await bob.client.next('rtc:describe')).data).toStrictEqual({ id: ada.id, description: 'plain string' });
    expect((await server.pool('room'))?.find(({ id }) => id === ada.id)?.description).toBe('plain string');

    const later = await harness.raw(server.url);
    const joined = await later.join('room');
    expect(joined.descriptions).toStrictEqual({ [ada.id]: 'plain string', [bob.id]: null, [cid.id]: null });

    expect(server.describe('no-such-endpoint', 1)).toBe(false);
  });

  test('server.describe of a member who left, or of an unjoined connection, is false and sends nothing', async () => {
    const server = await harness.start();
    const [ada, bob] = await harness.joined(server.url, 'room', 2);
    if (!ada || !bob) throw new Error('two members');
    bob.client.socket.close();
    await ada.client.next('rtc:close');
    expect(server.describe(bob.id, { late: true })).toBe(false);
    await ada.client.sync();
    expect(ada.client.all('rtc:describe')).toEqual([]);
  });
});

describe('order of operations', () => {
  test('rtc:sdp and rtc:candidate before joining get not-joined', async () => {
    const server = await harness.start();
    const [member] = await harness.joined(server.url, 'room', 1);
    const stranger = await harness.raw(server.url);
    stranger.send('rtc:sdp', { to: member?.id, description: offer });
    expect((await stranger.error()).reason).toBe('not-joined');
    stranger.send('rtc:candidate', { for: member?.id, candidate: null });
    expect((await stranger.error()).reason).toBe('not-joined');
    await member?.client.sync();
    expect(member?.client.frames.map(({ type }) => type)).toEqual(['rtc:joined']);
    // Joining afterwards works.
    expect((await stranger.join('room')).peers).toEqual([member?.id]);
  });

  test('a second rtc:join gets already-joined and leaves the first membership alone', async () => {
    const server = await harness.start();
    const [ada, bob] = await harness.joined(server.url, 'room', 2);
    if (!ada || !bob) throw new Error('two members');
    ada.client.send('rtc:join', { pool: 'room' });
    expect((await ada.client.error()).reason).toBe('already-joined');
    ada.client.send('rtc:join', { pool: 'another' });
    expect((await ada.client.error()).reason).toBe('already-joined');
    expect(ada.client.all('rtc:joined')).toHaveLength(1);
    expect(await server.pools()).toEqual(['room']);
    await bob.client.sync();
    expect(bob.client.all('rtc:peer')).toEqual([]);
    ada.client.send('rtc:sdp', { to: bob.id, description: offer });
    expect((await bob.client.next('rtc:sdp')).data.peer).toBe(ada.id);
  });
});

describe('malformed frames', () => {
  const frames: Array<[string, string | Buffer, string]> = [
    ['not JSON', 'hello {', 'malformed-frame'],
    ['empty text', '', 'malformed-frame'],
    ['JSON, not an object', '[1, 2, 3]', 'malformed-frame'],
    ['a JSON string', '"rtc:join"', 'malformed-frame'],
    ['JSON null', 'null', 'malformed-frame'],
    ['a number type', '{"type": 7, "data": {}}', 'malformed-frame'],
    ['no type', '{"data": {"pool": "room"}}', 'malformed-frame'],
    ['data not an object', '{"type": "rtc:join", "data": "room"}', 'malformed-frame'],
    ['data an array', '{"type": "rtc:join", "data": ["room"]}', 'malformed-frame'],
    ['an unknown event', '{"type": "rtc:hello", "data": {}}', 'unknown-event'],
    ['a server-only event', '{"type": "rtc:joined", "data": {"client_id": "x", "peers": []}}', 'unknown-event'],
    ['a prototype key as event', '{"type": "__proto__", "data": {}}', 'unknown-event'],
    ['a pool that is a number', '{"type": "rtc:join", "data": {"pool": 42}}', 'invalid-field'],
    ['an empty pool', '{"type": "rtc:join", "data": {"pool": ""}}', 'invalid-field'],
    ['a pool too long', JSON.stringify({ type: 'rtc:join', data: { pool: 'p'.repeat(257) } }), 'invalid-field'],
    ['sdp without to', '{"type": "rtc:sdp", "data": {"description": {"type": "offer", "sdp": ""}}}', 'invalid-field'],
    [
      'sdp of a bad type',
      '{"type": "rtc:sdp", "data": {"to": "x", "description": {"type": "pranswer", "sdp": ""}}}',
      'invalid-field',
    ],
    ['a candidate missing', '{"type": "rtc:candidate", "data": {"for": "x"}}', 'invalid-field'],
    [
      'a candidate that is a string',
      '{"type": "rtc:candidate", "data": {"for": "x", "candidate": "c"}}',
      'invalid-field',
    ],
    ['binary garbage', Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]), 'malformed-frame'],
    ['binary, valid UTF-8 but not JSON', Buffer.from('rtc:join room'), 'malformed-frame'],
  ];

  test.each(frames)(
    '%s: rtc:error with the parser’s reason, and the connection keeps working',
    async (_, raw, reason) => {
      // The expectation is the shared parser's own verdict, which the table spells out.
      const verdict = parseClientFrame(raw);
      expect(verdict.ok ? 'ok' : verdict.error.code).toBe(reason);

      const server = await harness.start();
      const [member] = await harness.joined(server.url, 'room', 1);
      const client = await harness.raw(server.url);
      client.sendRaw(raw);
      const error = await client.error();
      expect(error).toStrictEqual({ reason, message: expect.any(String) });
      if (!verdict.ok) expect(error.message).toBe(verdict.error.message);

      // Still there: it joins and relays.
      const joined = await client.join('room');
      expect(joined.peers).toEqual([member?.id]);
      client.sendRaw(raw);
      expect((await client.error()).reason).toBe(reason);
      client.send('rtc:candidate', { for: member?.id, candidate: null });
      expect((await member?.client.next('rtc:candidate'))?.data).toStrictEqual({
        from: joined.client_id,
        candidate: null,
      });
    },
  );

  test('a valid frame sent as binary UTF-8 is accepted', async () => {
    const server = await harness.start();
    const client = await harness.raw(server.url);
    client.sendRaw(Buffer.from(JSON.stringify({ type: 'rtc:join', data: { pool: 'room' } })));
    expect((await client.next('rtc:joined')).data.pool).toBe('room');
  });

  test('a frame over maxMessageBytes closes the connection with 1009; its peers get rtc:close', async () => {
    const server = await harness.start({ maxMessageBytes: 1024 });
    const [ada, bob] = await harness.joined(server.url, 'room', 2);
    if (!ada || !bob) throw new Error('two members');

    // Just under the limit is fine.
    const fits = JSON.stringify({ type: 'rtc:sdp', data: { to: bob.id, description: { type: 'offer', sdp: '' } } });
    const padded = fits.replace('"sdp":""', `"sdp":"${'a'.repeat(1024 - fits.length)}"`);
    expect(Buffer.byteLength(padded)).toBe(1024);
    ada.client.sendRaw(padded);
    expect((await bob.client.next('rtc:sdp')).data.description.sdp).toHaveLength(1024 - fits.length);

    ada.client.sendRaw(`${padded} `);
    expect((await ada.client.ended()).code).toBe(1009);
    expect((await bob.client.next('rtc:close')).data).toStrictEqual({ id: ada.id, uid: ada.id });
    expect((await server.pool('room'))?.map(({ id }) => id)).toEqual([bob.id]);
  });

  test('a too-large binary frame closes with 1009 too, before joining', async () => {
    const server = await harness.start({ maxMessageBytes: 512 });
    const client = await harness.raw(server.url);
    client.sendRaw(Buffer.alloc(513, 0x20));
    expect((await client.ended()).code).toBe(1009);
  });
});
