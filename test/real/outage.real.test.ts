/**
 * The signalling channel survives a blip, end to end in Node: real `Pool`s on
 * @roamhq/wrtc, signalling through the real server over `Signalling.websocket`
 * from a socket factory, with a TCP proxy (test/support/tcp-proxy.ts) between
 * them that cuts every connection (the server sees 1006: a lost connection,
 * not a leave) and refuses new ones for a while, or freezes them (nothing
 * passes and nothing closes: only the client's heartbeat can tell). The
 * media path (UDP on loopback) is not cut: the peer connections must not
 * notice.
 */
import wrtc from '@roamhq/wrtc';
import { afterEach, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { PoolError, type PoolEventData } from '../../src/pool-events.js';
import { Signalling, type SignallingOptions } from '../../src/signalling/index.js';
import { type ChannelLike, collectMessages } from '../support/real-stacks.js';
import { serverHarness } from '../support/server-client.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { until } from '../support/wait.js';
import { type WrtcMember, wrtcMember } from '../support/wrtc-member.js';

const harness = serverHarness();

/** A wrtc Pool member that also records whose tracks arrived (`track` events). */
type Member = WrtcMember & { tracksFrom: string[] };

const cleanup: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A Pool on wrtc whose signalling is a WebSocket to `url`, made again after each lost connection. */
function member(name: string, url: string, options: SignallingOptions = {}): Member {
  const created = Object.assign(wrtcMember(name, new Signalling.websocket(() => new WebSocket(url), options)), {
    tracksFrom: [] as string[],
  });
  cleanup.push(() => created.pool.close());
  created.pool.events.ontrack = ({ detail }) => created.tracksFrom.push(detail.connection.id);
  return created;
}

const ofType = <T extends PoolEventData['type']>(one: Member, type: T) =>
  one.events.filter((event): event is Extract<PoolEventData, { type: T }> => event.type === type);
const connected = (pc: RTCPeerConnection) => pc.connectionState === 'connected';

/** Joins everyone to `pool` and waits until each has a connected connection to every other. */
async function mesh(members: Member[], pool: string): Promise<string[]> {
  const ids = await Promise.all(members.map((one) => one.pool.join(pool)));
  const others = members.length - 1;
  await until(
    () => members.every(({ pcs }) => pcs.length === others && pcs.every(connected)),
    'every peer connection connected',
  );
  return ids;
}

/** A channel from `from` to `to` (by id), open at both ends, with what each end receives. */
async function openChannel(from: Member, to: Member, toId: string, label: string) {
  const near = (await from.pool.getConnection(toId)?.dataChannel(label)) as unknown as ChannelLike;
  // Labels are unique in these tests.
  const incoming = () => to.incoming.find(({ channel }) => channel.label === label)?.channel;
  await until(() => incoming()?.readyState === 'open', `channel ${label} open at ${to.name}`);
  const far = incoming() as ChannelLike;
  return { label, near, far, atFar: collectMessages(far), atNear: collectMessages(near) };
}

type Link = Awaited<ReturnType<typeof openChannel>>;

/** Sends `phase` both ways on every link and waits for all of it. */
async function exchange(links: Link[], phase: string): Promise<void> {
  for (const link of links) {
    link.near.send(`${link.label} there ${phase}`);
    link.far.send(`${link.label} back ${phase}`);
  }
  await until(
    () =>
      links.every(
        (link) =>
          link.atFar.includes(`${link.label} there ${phase}`) && link.atNear.includes(`${link.label} back ${phase}`),
      ),
    `every ${phase} message at the other end`,
  );
}

test('a 5 s signalling outage in a 4-peer pool loses no peer connection and no message', async () => {
  const server = await harness.start(); // resume window: the default 15 s
  const proxy = await TcpProxy.start(server.port);
  cleanup.push(() => proxy.close());
  const members = ['ada', 'bob', 'cid', 'dan'].map((name) => member(name, `ws://127.0.0.1:${proxy.port}/ws`));
  const [ada, bob, cid, dan] = members as [Member, Member, Member, Member];
  const ids = await mesh(members, 'mesh');
  const idOf = (one: Member) => ids[members.indexOf(one)] as string;
  const links: Link[] = [];
  for (const [i, from] of members.entries()) {
    for (const to of members.slice(i + 1)) links.push(await openChannel(from, to, idOf(to), `${from.name}-${to.name}`));
  }
  expect(links).toHaveLength(6);
  await exchange(links, 'before');
  const pcsBefore = members.map(({ pcs }) => [...pcs]);
  const adaToBob = ada.pcs[ada.pool.connections.findIndex(({ id }) => id === idOf(bob))] as RTCPeerConnection;
  await until(() => adaToBob.signalingState === 'stable', 'ada → bob stable');

  const cutAt = Date.now();
  proxy.cut();
  await until(() => members.every(({ signalling }) => signalling.state === 'offline'), 'every signalling offline');
  expect(members.map((one) => ofType(one, 'reconnecting').length)).toEqual([1, 1, 1, 1]);

  // During the outage: the peer connections carry data as before...
  await exchange(links, 'during');
  // ... and open a new channel (in band: SCTP is up, no signalling needed) ...
  const late = await openChannel(ada, dan, idOf(dan), 'opened-during-the-outage');
  // ... while ada adds a track toward bob: that needs an offer, which waits in ada's outbox ...
  const source = new wrtc.nonstandard.RTCAudioSource();
  const track = source.createTrack();
  cleanup.push(() => track.stop());
  ada.pool.getConnection(idOf(bob))?.addTrack(track);
  await until(() => adaToBob.signalingState === 'have-local-offer', 'ada to make its offer');
  // ... and the server describes cid: held by the server for ada, bob and dan.
  expect(server.describe(idOf(cid), { seat: 3 })).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutAt + 5000 - Date.now())));
  expect(proxy.down).toBe(true);
  expect(proxy.refused).toBeGreaterThan(0); // they did try, and were turned away
  expect(members.every((one) => ofType(one, 'describe').length === 0)).toBe(true);
  expect(bob.tracksFrom).toEqual([]);
  expect(adaToBob.signalingState).toBe('have-local-offer');

  proxy.restore();
  await until(() => members.every(({ signalling }) => signalling.state === 'online'), 'every session resumed');
  const resumedAt = Date.now();
  expect(members.map((one) => ofType(one, 'reconnected').length)).toEqual([1, 1, 1, 1]);
  await until(() => bob.tracksFrom.length === 1, "ada's track at bob");
  expect(bob.tracksFrom).toEqual([idOf(ada)]);
  await until(() => adaToBob.signalingState === 'stable', "ada's offer answered");
  for (const other of [ada, bob, dan]) {
    await until(() => ofType(other, 'describe').length === 1, `the description at ${other.name}`);
    expect(ofType(other, 'describe')[0]).toMatchObject({ id: idOf(cid), description: { seat: 3 } });
    expect(other.pool.getDescription(idOf(cid))).toEqual({ seat: 3 });
  }
  expect(ofType(cid, 'describe')).toEqual([]);
  await exchange([...links, late], 'after');

  // Same ids, same connections, all 12 connected, every message once and in order, nothing refused.
  expect(members.map(({ pool }) => pool.id)).toEqual(ids);
  expect(members.map(({ pcs }) => pcs)).toEqual(pcsBefore);
  expect(members.every(({ pcs }) => pcs.length === 3 && pcs.every(connected))).toBe(true);
  for (const link of links) {
    expect(link.atFar).toEqual(['before', 'during', 'after'].map((phase) => `${link.label} there ${phase}`));
    expect(link.atNear).toEqual(['before', 'during', 'after'].map((phase) => `${link.label} back ${phase}`));
  }
  for (const one of members) {
    expect(ofType(one, 'close')).toEqual([]);
    expect(ofType(one, 'error')).toEqual([]);
  }
  expect(server.stats()).toMatchObject({ endpoints: 4, detached: 0, joins: 4, leaves: 0, resumes: 4 });
  console.log(
    `outage: cut for ${resumedAt - cutAt} ms until every session resumed; ` +
      `${proxy.refused} connection attempts refused meanwhile, ${proxy.accepted} accepted in all`,
  );
}, 60_000);

test('an outage longer than the resume window is a clean leave on every side', async () => {
  const server = await harness.start({ resumeWindowMs: 1500 });
  const proxy = await TcpProxy.start(server.port);
  cleanup.push(() => proxy.close());
  // Only ada's signalling goes through the proxy: only ada is cut off.
  const ada = member('ada', `ws://127.0.0.1:${proxy.port}/ws`);
  const others = ['bob', 'cid', 'dan'].map((name) => member(name, `ws://127.0.0.1:${server.port}/ws`));
  const members = [ada, ...others];
  const ids = await mesh(members, 'mesh');
  const adaId = ids[0] as string;

  const cutAt = Date.now();
  proxy.cut();
  await until(() => ofType(ada, 'close').length === 1, "ada's pool to end");
  const endedAt = Date.now();
  // ada: told why, then closed; every connection closed; its signalling gave up and stopped trying.
  expect(ada.events.slice(-2).map(({ type }) => type)).toEqual(['error', 'close']);
  const [error] = ofType(ada, 'error');
  expect(error?.error).toBeInstanceOf(PoolError);
  expect(error?.error).toMatchObject({ code: 'signalling-lost', message: expect.stringMatching(/^resume-expired: /) });
  expect(ofType(ada, 'close')).toEqual([{ type: 'close', connection: null }]);
  expect(ada.signalling.closeReason?.code).toBe('resume-expired');
  expect(ada.signalling.transceiver.closed).toBe(true);
  expect(ada.pool.nconnections).toBe(0);
  expect(ada.pcs.every((pc) => pc.signalingState === 'closed')).toBe(true);

  // Everyone else: ada left (the server said so once the window passed); they stay meshed.
  for (const other of others) {
    await until(() => ofType(other, 'close').length === 1, `${other.name} to see ada leave`);
    expect(ofType(other, 'close')[0]?.connection?.id).toBe(adaId);
    expect(other.pool.connections.map(({ id }) => id).sort()).toEqual(
      ids
        .slice(1)
        .filter((id) => id !== other.pool.id)
        .sort(),
    );
    expect(ofType(other, 'error')).toEqual([]);
    expect(ofType(other, 'reconnecting')).toEqual([]);
  }
  expect((await server.pool('mesh'))?.map(({ id }) => id).sort()).toEqual(ids.slice(1).sort());
  expect(server.stats()).toMatchObject({ endpoints: 3, detached: 0, leaves: 1, resumes: 0 });
  const [bob, cid] = others as [Member, Member];
  const link = await openChannel(bob, cid, ids[2] as string, 'still-meshed');
  await exchange([link], 'after');
  expect(others.every(({ pcs }) => pcs.filter(connected).length === 2)).toBe(true);

  // ada does not come back: nothing more reaches the proxy once it is restored.
  const attempts = proxy.accepted + proxy.refused;
  proxy.restore();
  expect(ada.pool.actor.getSnapshot().status).toBe('done');
  expect(proxy.accepted + proxy.refused).toBe(attempts);
  console.log(`outage past the window: ada's pool ended ${endedAt - cutAt} ms after the cut (window 1500 ms)`);
}, 60_000);

test('a signalling connection gone silent without closing is noticed by the client heartbeat and resumed; nothing is lost', async () => {
  // The server's own heartbeat (10 s ping, 20 s timeout) would take far longer: the client's finds it first.
  const server = await harness.start();
  const proxy = await TcpProxy.start(server.port);
  cleanup.push(() => proxy.close());
  const heartbeat = { intervalMs: 400, timeoutMs: 400 };
  const ada = member('ada', `ws://127.0.0.1:${proxy.port}/ws`, { heartbeat });
  const bob = member('bob', `ws://127.0.0.1:${server.port}/ws`, { heartbeat });
  const ids = await mesh([ada, bob], 'mesh');
  const [adaId, bobId] = ids as [string, string];
  const link = await openChannel(ada, bob, bobId, 'ada-bob');
  await exchange([link], 'before');
  const pcsBefore = [[...ada.pcs], [...bob.pcs]];
  const adaToBob = ada.pcs[0] as RTCPeerConnection;
  await until(() => adaToBob.signalingState === 'stable', 'ada → bob stable');
  const states: string[] = [];
  ada.signalling.state$.subscribe((state) => states.push(state));

  const frozenAt = Date.now();
  proxy.freeze();
  // Into the silent connection: ada's offer for a new track, and the server's description of bob for ada.
  const source = new wrtc.nonstandard.RTCAudioSource();
  const track = source.createTrack();
  cleanup.push(() => track.stop());
  ada.pool.getConnection(bobId)?.addTrack(track);
  expect(server.describe(bobId, { seat: 2 })).toBe(true);
  await until(() => states.includes('offline'), 'ada to notice the silence');
  const noticedAt = Date.now();
  await until(() => ada.signalling.state === 'online', "ada's session resumed on a new connection");
  const resumedAt = Date.now();

  await until(() => bob.tracksFrom.length === 1, "ada's track at bob");
  expect(bob.tracksFrom).toEqual([adaId]);
  await until(() => ofType(ada, 'describe').length === 1, 'the description at ada');
  expect(ofType(ada, 'describe')[0]).toMatchObject({ id: bobId, description: { seat: 2 } });
  await until(() => adaToBob.signalingState === 'stable', "ada's offer answered");
  await exchange([link], 'after');

  // One loss, one resume; same ids and connections; bob never saw ada leave; nothing refused.
  expect(states).toEqual(['online', 'offline', 'online']);
  expect(ofType(ada, 'reconnecting')).toHaveLength(1);
  expect(ofType(ada, 'reconnected')).toHaveLength(1);
  expect([ada.pool.id, bob.pool.id]).toEqual(ids);
  expect([ada.pcs, bob.pcs]).toEqual(pcsBefore);
  expect(link.atFar).toEqual(['before', 'after'].map((phase) => `ada-bob there ${phase}`));
  expect(link.atNear).toEqual(['before', 'after'].map((phase) => `ada-bob back ${phase}`));
  for (const one of [ada, bob]) {
    expect(ofType(one, 'close')).toEqual([]);
    expect(ofType(one, 'error')).toEqual([]);
  }
  expect(ofType(bob, 'reconnecting')).toEqual([]);
  expect(server.stats()).toMatchObject({ endpoints: 2, detached: 0, joins: 2, leaves: 0, resumes: 1 });
  console.log(
    `heartbeat: silence noticed ${noticedAt - frozenAt} ms after the freeze (interval ${heartbeat.intervalMs} ms + ` +
      `timeout ${heartbeat.timeoutMs} ms), session resumed ${resumedAt - frozenAt} ms after it`,
  );
}, 60_000);
