/**
 * The server's admission and pool options: private pools, the `resolvePool`
 * hook (mapping, refusing, throwing, async), `authenticate`, the origin check
 * and `maxPeersPerPool`.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, test } from 'vitest';
import type { ConnectionInfo, ServerEvent } from '../../src/server/index.js';
import { serverHarness, upgradeStatus } from '../support/server-client.js';
import { eventually, until } from '../support/wait.js';

const harness = serverHarness();

const offer = { type: 'offer', sdp: 'v=0\r\n' };

describe("pools: 'private'", () => {
  test('joining an unknown pool gets pool-not-found until createPool; a created pool outlives its members until stopped', async () => {
    const server = await harness.start({ pools: 'private' });
    const client = await harness.raw(server.url);
    client.send('rtc:join', { pool: 'club' });
    expect((await client.error()).reason).toBe('pool-not-found');
    expect(await server.pools()).toEqual([]);

    await server.createPool('club');
    expect(await server.pools()).toEqual(['club']);
    expect(await server.pool('club')).toEqual([]);
    // The same connection may try again.
    const joined = await client.join('club');
    expect(joined).toStrictEqual({
      client_id: expect.any(String),
      peers: [],
      descriptions: {},
      pool: 'club',
      resume: { token: expect.any(String), window_ms: 15_000 },
      answers_ping: true,
    });

    client.socket.close();
    await eventually(async () => (await server.pool('club'))?.length === 0, 'the member gone');
    expect(await server.pools()).toEqual(['club']);
    const again = await harness.raw(server.url);
    expect((await again.join('club')).pool).toBe('club');

    expect(await server.stopPool('club')).toBe(true);
    await again.ended();
    const late = await harness.raw(server.url);
    late.send('rtc:join', { pool: 'club' });
    expect((await late.error()).reason).toBe('pool-not-found');
  });

  test('createPool on a public server keeps an emptied pool; createPool refuses an invalid id', async () => {
    const server = await harness.start();
    await server.createPool('kept');
    const [member] = await harness.joined(server.url, 'kept', 1);
    member?.client.socket.close();
    await eventually(async () => (await server.pool('kept'))?.length === 0, 'the member gone');
    expect(await server.pools()).toEqual(['kept']);
    await expect(server.createPool('')).rejects.toThrow(TypeError);
    await expect(server.createPool('x'.repeat(257))).rejects.toThrow(TypeError);
  });
});

describe('resolvePool', () => {
  test('maps a requested name to a pool: rtc:joined.pool is the mapped id, and two names that map to one pool mesh', async () => {
    const seen: Array<[string, ConnectionInfo<unknown>['transport']]> = [];
    const server = await harness.start({
      resolvePool: (requested, { transport }) => {
        seen.push([requested, transport]);
        return `team-${requested.split(':')[0]}`;
      },
    });
    const events: ServerEvent[] = [];
    server.events$.subscribe((event) => events.push(event));

    const ada = await harness.raw(server.url);
    const adaJoined = await ada.join('blue:ada-invite');
    expect(adaJoined.pool).toBe('team-blue');
    const bob = await harness.raw(server.url);
    const bobJoined = await bob.join('blue:bob-invite');
    expect(bobJoined).toStrictEqual({
      client_id: expect.any(String),
      peers: [adaJoined.client_id],
      descriptions: { [adaJoined.client_id]: null },
      pool: 'team-blue',
      resume: { token: expect.any(String), window_ms: 15_000 },
      answers_ping: true,
    });
    expect((await ada.next('rtc:peer')).data).toStrictEqual({ id: bobJoined.client_id });
    bob.send('rtc:sdp', { to: adaJoined.client_id, description: offer });
    expect((await ada.next('rtc:sdp')).data.peer).toBe(bobJoined.client_id);

    const red = await harness.raw(server.url);
    expect((await red.join('red:x')).peers).toEqual([]);
    expect((await server.pools()).sort()).toEqual(['team-blue', 'team-red']);
    expect(seen).toEqual([
      ['blue:ada-invite', 'websocket'],
      ['blue:bob-invite', 'websocket'],
      ['red:x', 'websocket'],
    ]);
    expect(events.filter((event) => event.type === 'join').map(({ pool, requested }) => [requested, pool])).toEqual([
      ['blue:ada-invite', 'team-blue'],
      ['blue:bob-invite', 'team-blue'],
      ['red:x', 'team-red'],
    ]);
  });

  test.each([
    ['null', null],
    ['undefined', undefined],
    ['an empty pool id', ''],
    ['a pool id that is too long', 'p'.repeat(257)],
  ])('returning %s refuses the join with pool-refused', async (_, verdict) => {
    const server = await harness.start({ resolvePool: () => verdict });
    const client = await harness.raw(server.url);
    client.send('rtc:join', { pool: 'anything' });
    const error = await client.error();
    expect(error.reason).toBe('pool-refused');
    expect(await server.pools()).toEqual([]);
    expect(server.stats().endpoints).toBe(0);
  });

  test('a throwing hook refuses that join only: the server keeps working, and the connection may join again', async () => {
    const server = await harness.start({
      resolvePool: (requested) => {
        if (requested === 'boom') throw new Error('the hook broke');
        return requested;
      },
    });
    const client = await harness.raw(server.url);
    client.send('rtc:join', { pool: 'boom' });
    expect((await client.error()).reason).toBe('pool-refused');
    const [other] = await harness.joined(server.url, 'fine', 1);
    expect((await client.join('fine')).peers).toEqual([other?.id]);
  });

  test('a rejecting async hook refuses the join too', async () => {
    const server = await harness.start({ resolvePool: async () => Promise.reject(new Error('nope')) });
    const client = await harness.raw(server.url);
    client.send('rtc:join', { pool: 'room' });
    expect((await client.error()).reason).toBe('pool-refused');
  });

  test('an async hook: the join completes when it resolves; a second rtc:join meanwhile gets already-joined', async () => {
    const pending: Array<(pool: string) => void> = [];
    const server = await harness.start({
      resolvePool: (requested) =>
        new Promise<string>((resolve) => pending.push((suffix) => resolve(`${requested}-${suffix}`))),
    });
    const client = await harness.raw(server.url);
    client.send('rtc:join', { pool: 'room' });
    await until(() => pending.length === 1, 'the hook called');
    client.send('rtc:join', { pool: 'other' });
    expect((await client.error()).reason).toBe('already-joined');
    expect(client.all('rtc:joined')).toEqual([]);
    expect(pending).toHaveLength(1);

    pending[0]?.('resolved');
    expect((await client.next('rtc:joined')).data.pool).toBe('room-resolved');
  });

  test('a connection that closes while the async hook runs never joins', async () => {
    const pending: Array<() => void> = [];
    const server = await harness.start({
      resolvePool: (requested) => new Promise<string>((resolve) => pending.push(() => resolve(requested))),
    });
    const member = await harness.raw(server.url);
    member.send('rtc:join', { pool: 'room' });
    await until(() => pending.length === 1, 'the first hook call');
    pending[0]?.();
    await member.next('rtc:joined');

    const quitter = await harness.raw(server.url);
    quitter.send('rtc:join', { pool: 'room' });
    await until(() => pending.length === 2, 'the second hook call');
    quitter.socket.close();
    await until(() => server.stats().connections === 1, 'the quitter gone');
    pending[1]?.();

    await member.sync();
    expect(member.all('rtc:peer')).toEqual([]);
    expect(await server.pool('room')).toHaveLength(1);
    expect(server.stats().joins).toBe(1);
  });
});

describe('authenticate', () => {
  const bearer = (request: IncomingMessage) => request.headers.authorization?.replace(/^Bearer /, '');

  test('refused (false, null or throwing) is HTTP 401 on the upgrade; an identity reaches resolvePool and the join event', async () => {
    const identities: unknown[] = [];
    const server = await harness.start<{ user: string }>({
      authenticate: async (request) => {
        const token = bearer(request);
        if (token === 'throw') throw new Error('the auth service is down');
        if (token === 'null') return null;
        if (token === 'anonymous') return true;
        return token ? { user: token } : false;
      },
      resolvePool: (requested, { identity, request }) => {
        identities.push(identity);
        expect(request.headers.authorization).toMatch(/^Bearer /);
        return identity ? `${requested}-${identity.user}` : requested;
      },
    });
    const joins: unknown[] = [];
    server.events$.subscribe((event) => {
      if (event.type === 'join') joins.push(event.identity);
    });

    expect(await upgradeStatus(server.url)).toBe(401);
    for (const token of ['throw', 'null']) {
      expect(await upgradeStatus(server.url, { headers: { authorization: `Bearer ${token}` } })).toBe(401);
    }
    expect(server.stats().connections).toBe(0);

    const ada = await harness.raw(server.url, { headers: { authorization: 'Bearer ada' } });
    expect((await ada.join('room')).pool).toBe('room-ada');
    const anonymous = await harness.raw(server.url, { headers: { authorization: 'Bearer anonymous' } });
    expect((await anonymous.join('room')).pool).toBe('room');

    expect(identities).toEqual([{ user: 'ada' }, undefined]);
    expect(joins).toEqual([{ user: 'ada' }, undefined]);
  });

  test('over socket.io: a refusal is a connect_error, an identity reaches the hooks', async () => {
    const identities: unknown[] = [];
    const server = await harness.start({
      authenticate: (request) => bearer(request) ?? false,
      resolvePool: (requested, { identity, transport }) => {
        identities.push([identity, transport]);
        return requested;
      },
    });
    const refused = harness.ioStart(server.url);
    await until(() => refused.connectError !== undefined, 'the refusal');
    expect(refused.socket.connected).toBe(false);

    for (const transports of [['websocket'], ['polling']] as const) {
      const client = await harness.io(server.url, {
        transports: [...transports],
        extraHeaders: { authorization: `Bearer ${transports[0]}-user` },
      });
      await client.join('room');
    }
    expect(identities).toEqual([
      ['websocket-user', 'socket.io'],
      ['polling-user', 'socket.io'],
    ]);
  });
});

describe('allowedOrigins', () => {
  test('default: no Origin and same-origin are allowed, a foreign Origin gets 403', async () => {
    const server = await harness.start();
    const self = `http://127.0.0.1:${server.port}`;
    expect(await upgradeStatus(server.url)).toBe(101);
    expect(await upgradeStatus(server.url, { origin: self })).toBe(101);
    expect(await upgradeStatus(server.url, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(server.url, { origin: `http://127.0.0.1:${server.port + 1}` })).toBe(403);
    expect(await upgradeStatus(server.url, { origin: 'null' })).toBe(403);

    const foreign = harness.ioStart(server.url, { extraHeaders: { origin: 'http://evil.example' } });
    await until(() => foreign.connectError !== undefined, 'the refusal');
    expect((await harness.io(server.url, { extraHeaders: { origin: self } })).socket.connected).toBe(true);
  });

  test('a list allows exactly its origins (same-origin is not implied)', async () => {
    const server = await harness.start({ allowedOrigins: ['https://app.example', 'https://admin.example'] });
    expect(await upgradeStatus(server.url, { origin: 'https://app.example' })).toBe(101);
    expect(await upgradeStatus(server.url, { origin: 'https://admin.example' })).toBe(101);
    expect(await upgradeStatus(server.url, { origin: 'https://app.example.evil' })).toBe(403);
    expect(await upgradeStatus(server.url, { origin: `http://127.0.0.1:${server.port}` })).toBe(403);
    expect(await upgradeStatus(server.url)).toBe(101);
  });

  test("'*' allows every origin; a function decides per origin", async () => {
    const open = await harness.start({ allowedOrigins: '*' });
    expect(await upgradeStatus(open.url, { origin: 'http://evil.example' })).toBe(101);
    const picky = await harness.start({ allowedOrigins: (origin) => origin.endsWith('.trusted.example') });
    expect(await upgradeStatus(picky.url, { origin: 'https://a.trusted.example' })).toBe(101);
    expect(await upgradeStatus(picky.url, { origin: 'https://trusted.example.evil' })).toBe(403);
  });

  test('the origin is checked before authenticate runs', async () => {
    let asked = 0;
    const server = await harness.start({
      authenticate: () => {
        asked += 1;
        return true;
      },
    });
    expect(await upgradeStatus(server.url, { origin: 'http://evil.example' })).toBe(403);
    expect(asked).toBe(0);
    expect(await upgradeStatus(server.url)).toBe(101);
    expect(asked).toBe(1);
  });
});

describe('maxPeersPerPool', () => {
  test('a join past the limit gets pool-full; that connection stays and may join elsewhere, or here once there is room', async () => {
    const server = await harness.start({ maxPeersPerPool: 2 });
    const [ada, bob] = await harness.joined(server.url, 'pair', 2);
    const third = await harness.raw(server.url);
    third.send('rtc:join', { pool: 'pair' });
    const error = await third.error();
    expect(error.reason).toBe('pool-full');
    expect(await server.pool('pair')).toHaveLength(2);
    await Promise.all([ada?.client.sync(), bob?.client.sync()]);
    expect(ada?.client.all('rtc:peer')).toHaveLength(1);
    expect(bob?.client.all('rtc:peer')).toEqual([]);

    bob?.client.socket.close();
    await ada?.client.next('rtc:close');
    expect((await third.join('pair')).peers).toEqual([ada?.id]);
  });
});
