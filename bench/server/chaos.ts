/**
 * Chaos (not for CI): 3 server processes sharing pools through Redis, clients
 * in pools of 4 relaying numbered frames to each other, and every `--every`
 * seconds one process, picked at random, killed with SIGKILL and started
 * again on its port. Each client is rtcpool's own `Signalling` over the list
 * of the 3 URLs (it reconnects, resumes, fails over to another process); a
 * client whose session ends joins again as a new member. See
 * bench/server/README.md.
 *
 *   npm run bench:chaos -- [--minutes 5] [--every 20] [--clients 60] [--pick random|busiest]
 *
 * `--pick busiest` kills the process with the most connections instead of a
 * random one: clients stay on the process they moved to, so after a few
 * random kills most land on a process nobody is on.
 *
 * The report counts, over the run: sessions resumed, resumes refused (the
 * client joined again under a new id), `rtc:close` seen for a member that
 * never left on purpose (none does here), frames refused (`unknown-peer`:
 * sent to a member that had gone, and told so), frames lost (sent, neither
 * refused nor received) and frames received twice.
 */
import { parseArgs } from 'node:util';
import { WebSocket as NodeWebSocket } from 'ws';
import { type BenchChild, forkChild, sleep } from './child.js';
import { freePort, startRedis } from './redis.js';
import type { ServerReady } from './server-process.js';

// The client as users run it, from the built package (`npm run bench:chaos` builds first).
const built = new URL('../../dist/index.js', import.meta.url).href;
const { Signalling, joinMessage, candidateMessage } = (await import(built)) as typeof import('../../src/index.js');
type SignallingChannel = InstanceType<typeof Signalling>;

// A list of URLs is opened with the global WebSocket, which Node 20 does not have: `ws`'s fits.
(globalThis as { WebSocket?: unknown }).WebSocket ??= NodeWebSocket;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    every: { type: 'string', default: '20' },
    clients: { type: 'string', default: '60' },
    pick: { type: 'string', default: 'random' },
  },
});
if (values.pick !== 'random' && values.pick !== 'busiest') throw new Error('--pick: random or busiest');
const minutes = Number(values.minutes);
const everySeconds = Number(values.every);
const clientCount = Number(values.clients);
const PROCESSES = 3;
const POOL_SIZE = 4;
const SEND_EVERY_MS = 250;

/** One relayed frame's number, in its candidate line: `candidate:<seq> 1 udp 1 198.18.0.1 9 typ host`. */
const frameCandidate = (seq: number) => ({ candidate: `candidate:${seq} 1 udp 1 198.18.0.1 9 typ host`, sdpMid: '0' });
const seqOf = (candidate: unknown) =>
  Number(/^candidate:(\d+) /.exec((candidate as { candidate?: string } | null)?.candidate ?? '')?.[1] ?? Number.NaN);

const totals = { resumed: 0, refusedResumes: 0, otherEnds: 0, closesSeen: 0, refusedFrames: 0, duplicated: 0 };
/** Per `sender→target` id pair: frames sent, refused (the server said unknown-peer), and seqs received. */
const pairs = new Map<string, { sent: number; refused: number; received: Set<number> }>();
const pairOf = (from: string, to: string) => {
  const key = `${from}→${to}`;
  let pair = pairs.get(key);
  if (!pair) {
    pair = { sent: 0, refused: 0, received: new Set() };
    pairs.set(key, pair);
  }
  return pair;
};

interface Member {
  name: string;
  pool: string;
  urls: string[];
  signalling: SignallingChannel;
  id: string | null;
  peers: Set<string>;
  nextSeq: Map<string, number>;
}

function connect(member: Member): void {
  const signalling = new Signalling.websocket(member.urls);
  member.signalling = signalling;
  member.id = null;
  member.peers = new Set();
  member.nextSeq = new Map();
  signalling.messages.subscribe({
    next: (message) => {
      if (message.type === 'rtc:joined') {
        member.id = message.data.client_id;
        for (const peer of message.data.peers) member.peers.add(peer);
      } else if (message.type === 'rtc:peer') member.peers.add(message.data.id);
      else if (message.type === 'rtc:close') {
        member.peers.delete(message.data.id);
        totals.closesSeen += 1;
      } else if (message.type === 'rtc:resumed') totals.resumed += 1;
      else if (message.type === 'rtc:candidate' && member.id) {
        const seq = seqOf(message.data.candidate);
        const pair = pairOf(message.data.from, member.id);
        if (pair.received.has(seq)) totals.duplicated += 1;
        else pair.received.add(seq);
      } else if (message.type === 'rtc:error' && message.data.reason === 'unknown-peer' && member.id) {
        const to = /no peer "([^"]+)"/.exec(message.data.message)?.[1];
        if (to) pairOf(member.id, to).refused += 1;
        totals.refusedFrames += 1;
      }
    },
    // The session ended (a resume refused, most likely): join again, as an application would.
    complete: () => {
      if (stopping) return;
      if (signalling.closeReason?.code === 'resume-refused') totals.refusedResumes += 1;
      else totals.otherEnds += 1;
      setTimeout(() => connect(member), 100);
    },
  });
  signalling.send(joinMessage(member.pool));
}

function sendRound(members: Member[]): void {
  for (const member of members) {
    const { signalling, id } = member;
    if (!id || signalling.closed) continue;
    for (const peer of member.peers) {
      const seq = member.nextSeq.get(peer) ?? 0;
      member.nextSeq.set(peer, seq + 1);
      pairOf(id, peer).sent += 1;
      signalling.send(candidateMessage(peer, frameCandidate(seq)));
    }
  }
}

let stopping = false;

async function main(): Promise<void> {
  const redis = await startRedis();
  const ports = await Promise.all(Array.from({ length: PROCESSES }, () => freePort()));
  const start = (port: number) =>
    forkChild<ServerReady>(
      'server-process.ts',
      ['ours', '--redis', redis.url, '--port', String(port)],
      ['--expose-gc'],
    );
  const servers: BenchChild<ServerReady>[] = await Promise.all(ports.map(start));
  const urls = ports.map((port) => `ws://127.0.0.1:${port}/ws`);
  console.log(
    `chaos: ${PROCESSES} server processes (${ports.join(', ')}) and Redis, ${clientCount} clients in pools of ` +
      `${POOL_SIZE}, one process killed (SIGKILL) and restarted every ${everySeconds} s for ${minutes} min`,
  );
  const members: Member[] = Array.from({ length: clientCount }, (_, i) => ({
    name: `c${i}`,
    pool: `chaos-${Math.floor(i / POOL_SIZE)}`,
    // Each client starts on its own process and fails over to the others in turn.
    urls: urls.map((_, k) => urls[(i + k) % urls.length] as string),
    signalling: undefined as unknown as SignallingChannel,
    id: null,
    peers: new Set(),
    nextSeq: new Map(),
  }));
  try {
    for (const member of members) connect(member);
    const sender = setInterval(() => sendRound(members), SEND_EVERY_MS);
    const end = Date.now() + minutes * 60_000;
    let kills = 0;
    while (Date.now() + everySeconds * 1000 <= end) {
      await sleep(everySeconds * 1000);
      const connections = await Promise.all(servers.map((server) => server.request<number>('connections')));
      const victim =
        values.pick === 'busiest'
          ? connections.indexOf(Math.max(...connections))
          : Math.floor(Math.random() * PROCESSES);
      await servers[victim]?.kill();
      kills += 1;
      const killedAt = Date.now();
      servers[victim] = await start(ports[victim] as number);
      console.log(
        `  ${((Date.now() - (end - minutes * 60_000)) / 1000).toFixed(0)} s: killed process ${victim}, ` +
          `${connections[victim]} connections (of ${connections.join('/')}) ` +
          `(restarted in ${Date.now() - killedAt} ms); so far: resumed ${totals.resumed}, refused resumes ` +
          `${totals.refusedResumes}, closes seen ${totals.closesSeen}`,
      );
    }
    await sleep(Math.max(0, end - Date.now()));
    clearInterval(sender);
    // Let what is in flight (and held for a resume) arrive before counting.
    await sleep(8000);
    stopping = true;
    let sent = 0;
    let refused = 0;
    let received = 0;
    let lost = 0;
    for (const pair of pairs.values()) {
      sent += pair.sent;
      refused += pair.refused;
      received += pair.received.size;
      lost += Math.max(0, pair.sent - pair.refused - pair.received.size);
    }
    console.log('');
    console.log(
      `${kills} kills in ${minutes} min. Sessions resumed: ${totals.resumed}; resumes refused (joined again as a new ` +
        `member): ${totals.refusedResumes}; sessions ended otherwise: ${totals.otherEnds}; rtc:close seen by members ` +
        `(none left on purpose): ${totals.closesSeen}.`,
    );
    console.log(
      `Frames: ${sent} sent, ${received} received, ${refused} refused with unknown-peer (the target had gone), ` +
        `${lost} lost (neither received nor refused), ${totals.duplicated} received twice.`,
    );
  } finally {
    stopping = true;
    for (const member of members) member.signalling?.close();
    await Promise.all(servers.map((server) => server.stop()));
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
