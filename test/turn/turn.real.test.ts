/**
 * TURN end to end in Node: a real coturn on 127.0.0.1 (TURN REST
 * authentication, `--allow-loopback-peers`), the real signalling server
 * handing out the TURN URL with credentials it mints per endpoint, and
 * `Pool`s on @roamhq/wrtc that have no ICE servers of their own and
 * `iceTransportPolicy: 'relay'`: they can only connect through the relay,
 * with the server's credentials. Then what must not hang silently (an
 * expired credential, a wrong secret, an unreachable TURN server) and what a
 * resume refreshes.
 */
import wrtc from '@roamhq/wrtc';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { Pool, type PoolOptions } from '../../src/pool.js';
import type { PoolEventError } from '../../src/pool-events.js';
import { turnCredentials } from '../../src/server/ice-servers.js';
import type { IceServersOptions } from '../../src/server/index.js';
import { Signalling } from '../../src/signalling/index.js';
import { type ChannelLike, collectMessages } from '../support/real-stacks.js';
import { serverHarness } from '../support/server-client.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { freeUdpPort, startTurnServer } from '../support/turn-server.js';
import { until } from '../support/wait.js';

const harness = serverHarness();
const SECRET = 'the-shared-turn-secret-0123456789';
/** No ICE servers of the application's own: whatever relays comes from the signalling server. */
const RELAY_ONLY: RTCConfiguration = { iceTransportPolicy: 'relay' };

type PeerConnectionClass = new (configuration?: RTCConfiguration) => RTCPeerConnection;

interface Member {
  name: string;
  pool: Pool;
  signalling: Signalling;
  /** Every connection the pool made, with the configuration it was made with. */
  pcs: RTCPeerConnection[];
  configurations: RTCConfiguration[];
  incoming: Array<{ from: string; channel: ChannelLike }>;
  /** `error` events: what, about which connection, when. */
  errors: Array<{ error: PoolEventError; peer: string | null; at: number }>;
}

const cleanup: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function member(name: string, url: string, config = RELAY_ONLY, options: PoolOptions = {}): Member {
  const pcs: RTCPeerConnection[] = [];
  const configurations: RTCConfiguration[] = [];
  const Base = wrtc.RTCPeerConnection as unknown as PeerConnectionClass;
  const signalling = new Signalling.websocket(() => new WebSocket(url));
  const pool = new Pool(config, signalling, {
    ...options,
    RTCPeerConnection: class extends Base {
      constructor(configuration?: RTCConfiguration) {
        super(configuration);
        pcs.push(this);
        configurations.push(configuration ?? {});
      }
    },
  });
  const created: Member = { name, pool, signalling, pcs, configurations, incoming: [], errors: [] };
  pool.events.ondatachannel = ({ detail }) =>
    created.incoming.push({ from: detail.connection.id, channel: detail.channel as unknown as ChannelLike });
  pool.events.onerror = ({ detail }) =>
    created.errors.push({ error: detail.error, peer: detail.connection?.id ?? null, at: Date.now() });
  cleanup.push(() => pool.close());
  return created;
}

async function turnServer(secret = SECRET) {
  const coturn = await startTurnServer(secret);
  return coturn;
}

/** The signalling server handing out `turn` (its secret `SECRET` unless told), and its raw WebSocket URL. */
async function signallingServer(iceServers: IceServersOptions, extra: { resumeWindowMs?: number } = {}) {
  const server = await harness.start({ iceServers, ...extra });
  return { server, ws: `${server.url.replace(/^http/, 'ws')}/ws` };
}

/** The selected candidate pair's local and remote candidate types: transport → candidate-pair → candidates. */
async function selectedPair(pc: RTCPeerConnection): Promise<{ local?: string; remote?: string }> {
  const stats = await pc.getStats();
  const found: { local?: string; remote?: string } = {};
  stats.forEach((entry) => {
    if (entry.type !== 'transport' || !entry.selectedCandidatePairId) return;
    const pair = stats.get(entry.selectedCandidatePairId);
    found.local = pair && stats.get(pair.localCandidateId)?.candidateType;
    found.remote = pair && stats.get(pair.remoteCandidateId)?.candidateType;
  });
  return found;
}

const connected = (pc: RTCPeerConnection) => pc.connectionState === 'connected';
const iceErrors = (one: Member) => one.errors.filter(({ error }) => error.code === 'ice-server-error');

describe('TURN credentials minted by the signalling server', () => {
  test('three relay-only pools with no ICE servers of their own mesh through coturn: data flows, every selected pair is relay', async () => {
    const coturn = await turnServer();
    const { ws } = await signallingServer({ turn: { urls: [coturn.turnUrl], secret: SECRET } });
    // Other configuration fields of the application's are kept: bundlePolicy here.
    const members = [
      member('ada', ws),
      member('bob', ws, { ...RELAY_ONLY, bundlePolicy: 'max-bundle' }),
      member('cid', ws),
    ];
    const ids: string[] = [];
    for (const one of members) ids.push(await one.pool.join('relayed'));
    await until(
      () => members.every(({ pcs }) => pcs.length === 2 && pcs.every(connected)),
      `every connection connected through the relay; coturn said:\n${coturn.log().slice(-2000)}`,
    );
    for (const [index, one] of members.entries()) {
      for (const configuration of one.configurations) {
        // The server's TURN server, with a credential minted for this endpoint, after the application's none.
        expect(configuration.iceServers).toEqual([
          {
            urls: [coturn.turnUrl],
            username: expect.stringMatching(new RegExp(`^\\d+:${ids[index]}$`)),
            credential: expect.any(String),
          },
        ]);
        expect(configuration.iceTransportPolicy).toBe('relay');
      }
    }
    expect(members[1]?.configurations.every(({ bundlePolicy }) => bundlePolicy === 'max-bundle')).toBe(true);

    // A channel from every member to every other, a message each way on each.
    const byId = new Map(members.map((one, index) => [ids[index] as string, one]));
    const idOf = (one: Member) => ids[members.indexOf(one)] as string;
    const links = await Promise.all(
      members.flatMap((from) =>
        from.pool.connections.map(async (connection) => ({
          from,
          to: byId.get(connection.id) as Member,
          near: (await connection.dataChannel(`from-${from.name}`)) as unknown as ChannelLike,
        })),
      ),
    );
    expect(links).toHaveLength(6);
    await until(() => members.every(({ incoming }) => incoming.length === 2), 'two incoming channels each');
    await until(
      () => members.every(({ incoming }) => incoming.every(({ channel }) => channel.readyState === 'open')),
      'every incoming channel open',
    );
    const received = links.map(({ from, to, near }) => {
      const far = to.incoming.find((incoming) => incoming.from === idOf(from))?.channel as ChannelLike;
      return { from, to, near, far, atFar: collectMessages(far), atNear: collectMessages(near) };
    });
    for (const { from, to, near, far } of received) {
      near.send(`${from.name} to ${to.name}`);
      far.send(`${to.name} to ${from.name}`);
    }
    await until(
      () =>
        received.every(
          ({ from, to, atFar, atNear }) =>
            atFar.includes(`${from.name} to ${to.name}`) && atNear.includes(`${to.name} to ${from.name}`),
        ),
      'every message at the other end',
    );

    // Relayed, by the stack's own account: on both sides of each of the three pairs.
    for (const one of members) {
      for (const pc of one.pcs) expect(await selectedPair(pc)).toEqual({ local: 'relay', remote: 'relay' });
    }
    expect(coturn.allocations()).toBeGreaterThanOrEqual(3);
    expect(members.flatMap(({ errors }) => errors)).toEqual([]);
  });

  test('an expired credential is an ice-server-error naming the connection, the URL and 401, within two seconds', async () => {
    const coturn = await turnServer();
    const { ws } = await signallingServer({ turn: { urls: [coturn.turnUrl], secret: SECRET, ttlSeconds: 1 } });
    const ada = member('ada', ws);
    await ada.pool.join('expired');
    // ada's credential expires a second after her join: coturn refuses it once that second is over.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const bob = member('bob', ws);
    const bobId = await bob.pool.join('expired');
    const joinedAt = Date.now();
    await until(() => iceErrors(ada).length > 0, 'the error event at ada', 10_000);
    const [first] = iceErrors(ada);
    expect(first?.peer).toBe(bobId);
    expect(first?.error.message).toContain(`connection to ${bobId}`);
    expect(first?.error.message).toContain(coturn.turnUrl);
    expect(first?.error.message).toMatch(/answered 401 Unauthorized: a wrong or expired TURN credential/);
    expect((first?.at ?? Infinity) - joinedAt).toBeLessThan(2_000); // about 50 ms here; a bound for a loaded machine
    // One report per URL and code, however many local interfaces hit it.
    expect(iceErrors(ada)).toHaveLength(1);
    // bob's credential is fresh: he got relay candidates and reports nothing.
    expect(iceErrors(bob)).toEqual([]);
  });

  test('a wrong secret is an ice-server-error on both sides, at once, and no relay is ever allocated', async () => {
    const coturn = await turnServer();
    const { ws } = await signallingServer({ turn: { urls: [coturn.turnUrl], secret: 'not-the-secret' } });
    const [ada, bob] = [member('ada', ws), member('bob', ws)] as [Member, Member];
    const adaId = await ada.pool.join('wrong');
    const joinedAt = Date.now();
    const bobId = await bob.pool.join('wrong');
    await until(() => iceErrors(ada).length > 0 && iceErrors(bob).length > 0, 'an error event on both sides', 10_000);
    for (const [one, peer] of [
      [ada, bobId],
      [bob, adaId],
    ] as const) {
      const [error] = iceErrors(one);
      expect(error?.peer).toBe(peer);
      expect(error?.error.message).toMatch(
        new RegExp(`ICE server ${coturn.turnUrl.replace(/[?.]/g, '\\$&')} answered 401`),
      );
      expect((error?.at ?? Infinity) - joinedAt).toBeLessThan(2_000);
    }
    expect(coturn.allocations()).toBe(0);
    expect(ada.pcs.concat(bob.pcs).some(connected)).toBe(false);
  });

  test('an unreachable TURN server is an ice-server-error once turnTimeoutMs has passed without a relay candidate', async () => {
    const silent = `turn:127.0.0.1:${await freeUdpPort()}?transport=udp`;
    const { ws } = await signallingServer({ turn: { urls: [silent], secret: SECRET } });
    const [ada, bob] = [member('ada', ws, RELAY_ONLY, { turnTimeoutMs: 1_500 }), member('bob', ws)] as [Member, Member];
    await ada.pool.join('silent');
    const bobId = await bob.pool.join('silent');
    const joinedAt = Date.now();
    await until(() => iceErrors(ada).length > 0, 'the error event at ada', 10_000);
    const [error] = iceErrors(ada);
    expect(error?.peer).toBe(bobId);
    expect(error?.error.message).toBe(
      `connection to ${bobId}: no relay candidate from ${silent} (none within 1500 ms): the TURN server is unreachable or refused the credential`,
    );
    expect((error?.at ?? Infinity) - joinedAt).toBeGreaterThanOrEqual(1_400);
    expect((error?.at ?? Infinity) - joinedAt).toBeLessThan(4_000);
  });

  test('a resume brings fresh credentials: existing connections get them by setConfiguration, later ones are made with them', async () => {
    const coturn = await turnServer();
    const { server } = await signallingServer({ turn: { urls: [coturn.turnUrl], secret: SECRET } });
    const proxy = await TcpProxy.start(server.port);
    cleanup.push(() => proxy.close());
    const viaProxy = `ws://127.0.0.1:${proxy.port}/ws`;
    const direct = `${server.url.replace(/^http/, 'ws')}/ws`;
    const [ada, bob] = [member('ada', viaProxy), member('bob', direct)] as [Member, Member];
    const adaId = await ada.pool.join('resumed');
    await bob.pool.join('resumed');
    await until(() => [...ada.pcs, ...bob.pcs].length === 2 && [...ada.pcs, ...bob.pcs].every(connected), 'connected');
    const adaToBob = ada.pcs[0] as RTCPeerConnection;
    const before = adaToBob.getConfiguration().iceServers?.[0];
    const expiry = (server: RTCIceServer | undefined) => Number(server?.username?.split(':')[0]);

    // A second later (so that the expiry moves on), ada's signalling is cut and resumed.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    proxy.cut();
    await until(() => ada.signalling.state === 'offline', 'ada offline');
    proxy.restore();
    await until(() => ada.signalling.state === 'online', 'ada resumed');

    const after = adaToBob.getConfiguration().iceServers?.[0];
    expect(after?.username).toMatch(new RegExp(`^\\d+:${adaId}$`));
    expect(expiry(after)).toBeGreaterThan(expiry(before));
    // What the server minted for her on resume, computed independently of the server's code.
    expect(after?.credential).toBe(turnCredentials(SECRET, adaId, expiry(after)).credential);
    expect(adaToBob.getConfiguration().iceTransportPolicy).toBe('relay');
    // The connection itself carries on, and a peer that joins now is made with the new credentials.
    expect(connected(adaToBob)).toBe(true);
    const cid = member('cid', direct);
    await cid.pool.join('resumed');
    await until(() => ada.pcs.length === 2 && ada.pcs.every(connected), 'ada connected to cid through the relay');
    expect(ada.configurations[1]?.iceServers?.[0]?.username).toBe(after?.username);
    // And an ICE restart, which gathers with the new credentials, still relays.
    const allocated = coturn.allocations();
    ada.pool.getConnection(bob.pool.id as string)?.restartIce();
    await until(() => coturn.allocations() > allocated, 'an allocation for the restart');
    await until(() => connected(adaToBob), 'connected again after the restart');
    expect(await selectedPair(adaToBob)).toEqual({ local: 'relay', remote: 'relay' });
    expect([...ada.errors, ...bob.errors, ...cid.errors]).toEqual([]);
  });
});
