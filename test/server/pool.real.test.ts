/**
 * End to end in Node: real `Pool`s on @roamhq/wrtc, signalling through the
 * real server over `Signalling.websocket` (the `ws` client), all on loopback.
 * They mesh, carry data on every pair, hear the server's descriptions and
 * stop when the server stops their pool.
 */
import { expect, test } from 'vitest';
import type { ChannelLike } from '../support/real-stacks.js';
import { collectMessages } from '../support/real-stacks.js';
import { serverHarness } from '../support/server-client.js';
import { until } from '../support/wait.js';
import { type WrtcMember, wrtcMembersOverWebSocket } from '../support/wrtc-member.js';

const harness = serverHarness();

type Member = WrtcMember;

const member = wrtcMembersOverWebSocket();

const problems = (member: Member) => member.events.filter((event) => event.type === 'error');

test('three pools mesh through the server, exchange data on every pair, get describe and stop from it', async () => {
  const server = await harness.start();
  const members = ['ada', 'bob', 'cid'].map((name) => member(name, server.url));
  const ids = await Promise.all(members.map(({ pool }) => pool.join('mesh')));
  expect(new Set(ids).size).toBe(3);
  expect((await server.pool('mesh'))?.map(({ id }) => id).sort()).toEqual([...ids].sort());
  const byId = new Map(members.map((one, index) => [ids[index] as string, one]));
  const idOf = (one: Member) => ids[members.indexOf(one)] as string;

  await until(
    () => members.every(({ pcs }) => pcs.length === 2 && pcs.every((pc) => pc.connectionState === 'connected')),
    'every peer connection connected',
  );
  for (const one of members) {
    expect(one.pool.connections.map(({ id }) => id).sort()).toEqual(ids.filter((id) => id !== idOf(one)).sort());
  }

  // Every member opens a channel to every other: six channels, each met by a datachannel event at the far end.
  const opened = await Promise.all(
    members.flatMap((from) =>
      from.pool.connections.map(async (connection) => ({
        from,
        to: byId.get(connection.id) as Member,
        channel: (await connection.dataChannel(`from-${from.name}`)) as unknown as ChannelLike,
      })),
    ),
  );
  expect(opened).toHaveLength(6);
  await until(() => members.every(({ incoming }) => incoming.length === 2), 'two incoming channels at every pool');
  await until(
    () => members.every(({ incoming }) => incoming.every(({ channel }) => channel.readyState === 'open')),
    'every incoming channel open',
  );
  const exchanges = opened.map(({ from, to, channel }) => {
    const far = to.incoming.find((incoming) => incoming.from === idOf(from))?.channel as ChannelLike;
    expect(far.label).toBe(`from-${from.name}`);
    return { there: `${from.name} → ${to.name}`, back: `${to.name} → ${from.name}`, channel, far };
  });
  const received = exchanges.map(({ channel, far }) => ({
    atFar: collectMessages(far),
    atNear: collectMessages(channel),
  }));
  for (const { there, back, channel, far } of exchanges) {
    channel.send(there);
    far.send(back);
  }
  await until(
    () =>
      exchanges.every(({ there, back }, i) => received[i]?.atFar.includes(there) && received[i]?.atNear.includes(back)),
    'every message at the other end',
  );
  for (const [i, { there, back }] of exchanges.entries())
    expect(received[i]).toEqual({ atFar: [there], atNear: [back] });

  // The server describes ada: bob and cid hear it, as a `describe` event and through getDescription.
  const [ada, bob, cid] = members as [Member, Member, Member];
  const description = { name: 'Ada', role: 'host' };
  expect(server.describe(idOf(ada), description)).toBe(true);
  for (const other of [bob, cid]) {
    await until(() => other.events.some((event) => event.type === 'describe'), `${other.name}'s describe event`);
    const event = other.events.find((one) => one.type === 'describe');
    expect(event).toEqual({ type: 'describe', connection: expect.anything(), id: idOf(ada), description });
    expect(event?.type === 'describe' && event.connection?.id).toBe(idOf(ada));
    expect(other.pool.getDescription(idOf(ada))).toEqual(description);
  }
  expect(ada.events.filter((event) => event.type === 'describe')).toEqual([]);
  for (const one of members) expect(problems(one)).toEqual([]);

  // The server stops the pool: every pool hears `stop`, and its signalling ends.
  expect(await server.stopPool('mesh')).toBe(true);
  await until(() => members.every(({ events }) => events.some((event) => event.type === 'stop')), 'stop at every pool');
  await until(() => members.every(({ signalling }) => signalling.closed), 'every signalling channel closed');
  expect(await server.pools()).toEqual([]);
  expect(server.stats()).toMatchObject({ connections: 0, endpoints: 0, joins: 3 });
});

test('a pool that joins after a description gets it at once, and meshes with those already there', async () => {
  const server = await harness.start();
  const first = member('first', server.url);
  const firstId = await first.pool.join('late');
  expect(server.describe(firstId, { seat: 7 })).toBe(true);

  const late = member('late', server.url);
  const lateId = await late.pool.join('late');
  expect(late.pool.getDescription(firstId)).toEqual({ seat: 7 });
  expect(late.pool.getConnection(firstId)?.id).toBe(firstId);
  await until(
    () => [first, late].every(({ pcs }) => pcs.length === 1 && pcs[0]?.connectionState === 'connected'),
    'the pair connected',
  );
  const channel = (await late.pool.getConnection(firstId)?.dataChannel('hello')) as unknown as ChannelLike;
  await until(() => first.incoming.length === 1 && first.incoming[0]?.channel.readyState === 'open', 'the channel');
  const heard = collectMessages(first.incoming[0]?.channel as ChannelLike);
  channel.send('hi');
  await until(() => heard.length === 1, 'the message');
  expect(heard).toEqual(['hi']);
  expect(first.incoming[0]?.from).toBe(lateId);
  for (const one of [first, late]) expect(problems(one)).toEqual([]);
});
