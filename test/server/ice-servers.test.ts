/**
 * The ICE servers the signalling server hands out: the TURN REST minting
 * against vectors computed elsewhere, the `iceServers` option's checks at
 * start, `ice_servers` in `rtc:joined` (both transports) and minted afresh in
 * `rtc:resumed`, nothing sent without the option, and the secret in no frame,
 * no log line and no event.
 */
import { webcrypto } from 'node:crypto';
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  DEFAULT_TURN_TTL_SECONDS,
  type IceServersOptions,
  iceServerMinter,
  turnCredentials,
} from '../../src/server/ice-servers.js';
import { createSignallingServer, type ServerEvent } from '../../src/server/index.js';
import type { Logger } from '../../src/shared/logger.js';
import { type RawClient, serverHarness } from '../support/server-client.js';
import { until } from '../support/wait.js';

const harness = serverHarness();
const SECRET = 'north-wind-secret';
const TURN = 'turn:turn.example.org:3478?transport=udp';
const TURNS = 'turns:turn.example.org:5349?transport=tcp';
const STUN = 'stun:stun.example.org:3478';

afterEach(() => {
  vi.restoreAllMocks();
});

/** base64 HMAC-SHA1 by WebCrypto: another implementation than the server's node:crypto `createHmac`. */
async function hmacSha1(secret: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await webcrypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, [
    'sign',
  ]);
  return Buffer.from(await webcrypto.subtle.sign('HMAC', key, encoder.encode(text))).toString('base64');
}

describe('minting TURN REST credentials', () => {
  test('username <expiry>:<name>, credential the base64 HMAC-SHA1 of it: vectors computed with Python hmac', async () => {
    // python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b'north-wind-secret',
    //   b'1700086400:3f2b6c1e-9a4d-4e0b-8f61-2d7c5a9e0b13', hashlib.sha1).digest()))"
    const id = '3f2b6c1e-9a4d-4e0b-8f61-2d7c5a9e0b13';
    expect(turnCredentials(SECRET, id, 1_700_086_400)).toEqual({
      username: `1700086400:${id}`,
      credential: 'FvxYYwBcxwlGOixg19cpGhDmDc4=',
    });
    // The HMAC itself, on RFC 2202's test case 2 (key "Jefe"): effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
    expect(Buffer.from(await hmacSha1('Jefe', 'what do ya want for nothing?'), 'base64').toString('hex')).toBe(
      'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79',
    );
    expect(turnCredentials(SECRET, id, 1_700_086_400).credential).toBe(await hmacSha1(SECRET, `1700086400:${id}`));
  });

  test('per endpoint: STUN as given, TURN with a credential valid for the TTL from the wall clock (default a day)', () => {
    const now = 1_700_000_000_999; // the expiry counts from the whole second
    const mint = iceServerMinter({ stun: [STUN], turn: { urls: [TURN, TURNS], secret: SECRET } }, () => now);
    const id = '3f2b6c1e-9a4d-4e0b-8f61-2d7c5a9e0b13';
    expect(DEFAULT_TURN_TTL_SECONDS).toBe(86_400);
    expect(mint?.(id)).toEqual([
      { urls: [STUN] },
      { urls: [TURN, TURNS], username: `1700086400:${id}`, credential: 'FvxYYwBcxwlGOixg19cpGhDmDc4=' },
    ]);
    const short = iceServerMinter({ turn: { urls: [TURN], secret: SECRET, ttlSeconds: 60 } }, () => now);
    expect(short?.('bob')).toEqual(
      [turnCredentials(SECRET, 'bob', 1_700_000_060)].map((c) => ({ urls: [TURN], ...c })),
    );
    // Nothing to hand out: no minter, and so no field on the wire.
    expect(iceServerMinter(undefined)).toBeUndefined();
    expect(iceServerMinter({})).toBeUndefined();
    expect(iceServerMinter({ stun: [] })).toBeUndefined();
  });

  test.each<[string, IceServersOptions, RegExp]>([
    ['a TURN URL given as STUN', { stun: [TURN] }, /^iceServers\.stun\[0\]: not a stun: or stuns: URL/],
    ['an http URL', { stun: [STUN, 'https://stun.example.org'] }, /^iceServers\.stun\[1\]: not a stun: or stuns: URL/],
    [
      'a STUN URL given as TURN',
      { turn: { urls: [STUN], secret: SECRET } },
      /^iceServers\.turn\.urls\[0\]: not a turn:/,
    ],
    ['no TURN URL', { turn: { urls: [], secret: SECRET } }, /^iceServers\.turn\.urls: an array of 1 to 8 URLs/],
    ['an empty secret', { turn: { urls: [TURN], secret: '' } }, /^iceServers\.turn\.secret: a non-empty string/],
    ['a TTL of 0', { turn: { urls: [TURN], secret: SECRET, ttlSeconds: 0 } }, /^iceServers\.turn\.ttlSeconds/],
    ['a fractional TTL', { turn: { urls: [TURN], secret: SECRET, ttlSeconds: 1.5 } }, /^iceServers\.turn\.ttlSeconds/],
    ['the secret where a URL goes', { turn: { urls: [SECRET], secret: SECRET } }, /^iceServers\.turn\.urls\[0\]/],
  ])('%s fails the start with a TypeError that never quotes the secret', async (_, iceServers, message) => {
    const logged: string[] = [];
    const logger: Logger = { log: (...line) => logged.push(JSON.stringify(line)) };
    const error = await createSignallingServer({ port: 0, iceServers, logger }).then(
      (server) => server.close().then(() => new Error('it started')),
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SECRET);
    expect(logged).toEqual([]); // it failed before starting anything
  });
});

describe('ice_servers on the wire', () => {
  const options = { stun: [STUN], turn: { urls: [TURN], secret: SECRET, ttlSeconds: 3_600 } };

  async function expectMinted(servers: unknown, id: string, notBefore: number): Promise<number> {
    expect(servers).toEqual([
      { urls: [STUN] },
      { urls: [TURN], username: expect.stringMatching(new RegExp(`^\\d+:${id}$`)), credential: expect.any(String) },
    ]);
    const turn = (servers as Array<{ username: string; credential: string }>)[1] as {
      username: string;
      credential: string;
    };
    const expiry = Number(turn.username.split(':')[0]);
    expect(expiry).toBeGreaterThanOrEqual(Math.floor(notBefore / 1000) + 3_600);
    expect(expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3_600);
    expect(turn.credential).toBe(await hmacSha1(SECRET, turn.username));
    return expiry;
  }

  test('rtc:joined carries them, minted for the joiner, over the raw WebSocket and socket.io', async () => {
    const server = await harness.start({ iceServers: options });
    const before = Date.now();
    const raw = await harness.raw(server.url);
    const rawJoined = await raw.join('room');
    await expectMinted((rawJoined as { ice_servers?: unknown }).ice_servers, rawJoined.client_id, before);
    const io = await harness.io(server.url);
    io.send('rtc:join', { pool: 'room' });
    const ioJoined = (await io.next('rtc:joined')).data;
    await expectMinted(ioJoined.ice_servers, ioJoined.client_id, before);
    // Each endpoint its own.
    expect(ioJoined.ice_servers[1].username).not.toBe((rawJoined as { ice_servers?: unknown[] }).ice_servers?.[1]);
  });

  test('rtc:resumed carries them minted afresh: a later expiry, a new credential', async () => {
    const server = await harness.start({ iceServers: options, resumeWindowMs: 5_000 });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const ada = await harness.raw(server.url);
    const joined = (await ada.join('room')) as Awaited<ReturnType<RawClient['join']>> & { ice_servers?: unknown };
    const first = await expectMinted(joined.ice_servers, joined.client_id, Date.now() - 1_000);
    ada.socket.terminate();
    await until(() => events.some((event) => event.type === 'detach'), 'the session kept');
    // An hour later by the wall clock (the server's own clock, `now`, is another one and untouched).
    const later = Date.now() + 3_600_000;
    vi.spyOn(Date, 'now').mockReturnValue(later);
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: joined.client_id, token: joined.resume?.token, received: 0 });
    const resumed = (await again.next('rtc:resumed')).data;
    expect(resumed.client_id).toBe(joined.client_id);
    const second = await expectMinted(resumed.ice_servers, joined.client_id, later);
    expect(second).toBe(first + 3_600);
    expect(resumed.ice_servers[1].credential).not.toBe(
      (joined.ice_servers as Array<{ credential: string }>)[1]?.credential,
    );
  });

  test('without the option nothing changes: no ice_servers field in rtc:joined or rtc:resumed', async () => {
    const server = await harness.start({ resumeWindowMs: 5_000 });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const ada = await harness.raw(server.url);
    const joined = await ada.join('room');
    expect(Object.keys(joined).sort()).toEqual([
      'answers_ping',
      'client_id',
      'descriptions',
      'peers',
      'pool',
      'resume',
    ]);
    ada.socket.terminate();
    await until(() => events.some((event) => event.type === 'detach'), 'the session kept');
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: joined.client_id, token: joined.resume?.token, received: 0 });
    expect((await again.next('rtc:resumed')).data).toStrictEqual({ client_id: joined.client_id, received: 0 });
  });

  test('the secret is in no frame, no log line and no event, whatever the clients do', async () => {
    const logged: unknown[] = [];
    const logger: Logger = { log: (...line) => logged.push(line) };
    const server = await harness.start({ iceServers: options, resumeWindowMs: 5_000, logger });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));
    const ada = await harness.raw(server.url);
    const adaJoined = await ada.join('room');
    const bob = await harness.raw(server.url);
    const bobJoined = await bob.join('room');
    const cid = await harness.io(server.url);
    cid.send('rtc:join', { pool: 'room' });
    await cid.next('rtc:joined');
    // Relays, refusals of every kind, a describe, a resume, a refused resume, a leave.
    ada.send('rtc:sdp', { to: bobJoined.client_id, description: { type: 'offer', sdp: 'v=0\r\n' } });
    ada.send('rtc:candidate', { for: 'nobody', candidate: null });
    ada.sendRaw('not json');
    ada.send('rtc:describe', { id: adaJoined.client_id, description: SECRET });
    bob.send('rtc:join', { pool: 'again' });
    server.describe(adaJoined.client_id, { name: 'ada' });
    bob.socket.terminate();
    await until(() => events.some((event) => event.type === 'detach'), 'bob kept');
    const again = await harness.raw(server.url);
    again.send('rtc:resume', { id: bobJoined.client_id, token: bobJoined.resume?.token, received: 0 });
    await again.next('rtc:resumed');
    const stranger = await harness.raw(server.url);
    stranger.send('rtc:resume', { id: adaJoined.client_id, token: 'guess', received: 0 });
    await stranger.error();
    ada.close();
    await server.close();

    expect(logged.some((line) => JSON.stringify(line).includes(TURN))).toBe(true); // the start line names the URLs
    const everything = JSON.stringify({
      frames: [ada, bob, again, stranger, cid].map((client) => [client.frames, client.syncAnswers]),
      logged,
      events,
    });
    // The one SECRET the clients sent themselves (a refused rtc:describe) is not echoed back either.
    expect(everything.includes(SECRET)).toBe(false);
    expect(everything).toContain('credential');
  });
});
