/**
 * The load generator, in a process of its own: N raw WebSocket clients that
 * join pools of 4–8 and relay synthetic offers, answers and candidates
 * (frames.ts) to their pool's peers, driven by the orchestrator over IPC:
 *
 * - `connect {urls, clients, poolPrefix}`: opens the clients (round-robin
 *   over `urls`, so a pool spans every server process in cluster mode) and
 *   resolves once every client knows every peer of its pool;
 * - `start {mode: 'paced', rate, churnPerSecond?}`: each client sends `rate` messages a second,
 *   spread evenly (open loop: latency at a fixed offered load); with churn, that many clients a
 *   second either leave and join again (a new session) or lose their connection and resume their
 *   session on a new one, in turn;
 * - `start {mode: 'saturate', window, maxRate}`: keeps `window` messages in
 *   flight across all clients, no client above `maxRate` a second (closed
 *   loop: throughput at saturation, under the server's rate limit);
 * - `report`: what the window since the last report saw; `stop`: stop sending, drain.
 */
import { WebSocket } from 'ws';
import { serveParent } from './child.js';
import { isPlainId, relayFrame, relayStamp } from './frames.js';

export interface ConnectArgs {
  urls: string[];
  clients: number;
  poolPrefix: string;
}

export type StartArgs =
  | { mode: 'paced'; rate: number; churnPerSecond?: number }
  | { mode: 'saturate'; window: number; maxRate: number };

export interface WindowReport {
  seconds: number;
  sent: number;
  received: number;
  /** Relay latency of the frames received in the window, ms. */
  latency: { count: number; p50: number; p90: number; p99: number; max: number };
  /** `rtc:error` reasons the server answered with. */
  errors: Record<string, number>;
  /** CPU time of this process in the window, ms. */
  cpuMs: number;
  /** Clients that left and joined again (churn). */
  reconnects: number;
  /** Clients whose connection was cut and whose session resumed on a new one (churn). */
  resumes: number;
  /** Frames a resumed client had sent that the server says it never got (they died with the connection). */
  resumeLost: number;
}

interface Client {
  slot: number;
  pool: string;
  poolSize: number;
  ws: WebSocket;
  id: string | null;
  peers: string[];
  sent: number;
  nextAllowed: number;
  /** The resume token from `rtc:joined`. */
  token: string | null;
  /** Frames received since `rtc:joined` (`rtc:resumed` excepted), as the resume counts them. */
  received: number;
  /** Frames sent since `rtc:joined`. */
  sentInSession: number;
}

const clients: Client[] = [];
const pools: { name: string; size: number }[] = [];
let urls: string[] = [];

let mode: StartArgs | null = null;
let modeStarted = 0;
let modeSent = 0;
let cursor = 0;
let inflight = 0;
let pumpQueued = false;
const timers: NodeJS.Timeout[] = [];

let window = newWindow();
function newWindow() {
  return {
    started: performance.now(),
    cpu: process.cpuUsage(),
    sent: 0,
    received: 0,
    errors: {} as Record<string, number>,
    samples: [] as number[],
    reconnects: 0,
    resumes: 0,
    resumeLost: 0,
  };
}

/** Pools of 4, 5, 6, 7, 8, 4, ... members over consecutive clients; the last ones absorb the remainder. */
function layoutPools(count: number, prefix: string): { name: string; size: number }[] {
  const cycle = [4, 5, 6, 7, 8];
  const layout: { name: string; size: number }[] = [];
  for (let remaining = count, k = 0; remaining > 0; k += 1) {
    let size = cycle[k % cycle.length] ?? 4;
    if (remaining - size < 4) size = remaining <= 8 ? remaining : remaining - 4;
    layout.push({ name: `${prefix}-${k}`, size });
    remaining -= size;
  }
  return layout;
}

function onFrame(client: Client, frame: Buffer): void {
  client.received += 1; // undone below for the frames outside the count (protocol.md: resuming a session)
  const stamp = relayStamp(frame);
  if (stamp !== null) {
    window.received += 1;
    if (!Number.isNaN(stamp)) window.samples.push(performance.now() - stamp);
    inflight -= 1;
    schedulePump();
    return;
  }
  const { type, data } = JSON.parse(frame.toString()) as { type: string; data: Record<string, unknown> };
  if (type === 'rtc:joined') {
    const id = data.client_id as string;
    if (!isPlainId(id)) throw new Error(`client id ${JSON.stringify(id)} would need escaping`);
    client.id = id;
    client.token = (data.resume as { token: string } | undefined)?.token ?? null;
    client.received = 0;
    client.peers.push(...(data.peers as string[]));
    client.ws.emit('bench:joined');
  } else if (type === 'rtc:resumed') {
    client.received -= 1;
    client.ws.emit('bench:resumed', data.received as number);
  } else if (type === 'rtc:peer') client.peers.push(data.id as string);
  else if (type === 'rtc:close') client.peers = client.peers.filter((peer) => peer !== data.id);
  else if (type === 'rtc:error') {
    client.received -= 1; // an answer to this connection, not a frame of the session
    countError(String(data.reason));
    // Every error here answers a relay the server dropped: it will never arrive.
    inflight -= 1;
    schedulePump();
  }
}

/** A new socket for client `slot`, to its server (round-robin over `urls`). */
function socketFor(slot: number): WebSocket {
  const url = urls[slot % urls.length] ?? '';
  return new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false, skipUTF8Validation: true });
}

function countError(reason: string): void {
  window.errors[reason] = (window.errors[reason] ?? 0) + 1;
}

function openClient(slot: number, pool: { name: string; size: number }): Promise<Client> {
  const ws = socketFor(slot);
  const client: Client = {
    slot,
    pool: pool.name,
    poolSize: pool.size,
    ws,
    id: null,
    peers: [],
    sent: 0,
    nextAllowed: 0,
    token: null,
    received: 0,
    sentInSession: 0,
  };
  return new Promise((resolve, reject) => {
    ws.on('error', (error) => reject(new Error(`client ${slot}: ${error.message}`)));
    ws.once('open', () => ws.send(JSON.stringify({ type: 'rtc:join', data: { pool: pool.name } })));
    ws.once('bench:joined', () => resolve(client));
    ws.on('message', (frame: Buffer) => onFrame(client, frame));
    ws.once('close', (code) => {
      if (client.id === null) reject(new Error(`client ${slot}: closed (${code}) before rtc:joined`));
    });
  });
}

async function connect({ urls: targets, clients: count, poolPrefix }: ConnectArgs) {
  const started = performance.now();
  urls = targets;
  pools.push(...layoutPools(count, poolPrefix));
  const slots: { name: string; size: number }[] = [];
  for (const pool of pools) for (let i = 0; i < pool.size; i += 1) slots.push(pool);
  let next = 0;
  // A few hundred handshakes at a time: more only overflows the server's accept backlog.
  const opener = async () => {
    while (next < slots.length) {
      const slot = next++;
      clients[slot] = await openClient(slot, slots[slot] as { name: string; size: number });
    }
  };
  await Promise.all(Array.from({ length: 200 }, opener));
  const deadline = performance.now() + 60_000;
  while (clients.some((client) => client.peers.length < client.poolSize - 1)) {
    if (performance.now() > deadline) throw new Error('not every client heard of every peer within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ms: performance.now() - started, clients: clients.length, pools: pools.length };
}

function sendOne(client: Client, now: number): boolean {
  if (client.id === null || client.peers.length === 0) return false;
  const to = client.peers[client.sent % client.peers.length] as string;
  client.ws.send(relayFrame(client.sent, to, now));
  client.sent += 1;
  client.sentInSession += 1;
  window.sent += 1;
  inflight += 1;
  return true;
}

function schedulePump(): void {
  if (pumpQueued || mode?.mode !== 'saturate') return;
  pumpQueued = true;
  setImmediate(pump);
}

function pump(): void {
  pumpQueued = false;
  if (mode === null) return;
  const now = performance.now();
  if (mode.mode === 'paced') {
    const due = Math.floor(((now - modeStarted) / 1000) * mode.rate * clients.length) - modeSent;
    for (let i = 0; i < due; i += 1) {
      const client = clients[cursor % clients.length] as Client;
      cursor += 1;
      modeSent += 1;
      sendOne(client, now);
    }
    return;
  }
  const spacing = 1000 / mode.maxRate;
  for (let tries = 0; inflight < mode.window && tries < clients.length; tries += 1) {
    const client = clients[cursor % clients.length] as Client;
    // Round-robin: the client under the cursor sent longest ago; if it must wait, so must the rest.
    if (client.nextAllowed > now) break;
    cursor += 1;
    if (sendOne(client, now)) client.nextAllowed = now + spacing;
  }
}

/**
 * Cuts `old`'s connection (no close frame: the server keeps the session) and resumes its session on a new one,
 * with the count of frames it received. The frames the server never got are counted, not sent again: they are
 * synthetic relays, and the window's `resumeLost` says how many there were.
 */
function resumeClient(slot: number, old: Client): Promise<Client> {
  const { id, token, received, sentInSession } = old;
  old.id = null; // not a sender while it is away
  old.ws.terminate();
  const ws = socketFor(slot);
  const client: Client = { ...old, ws, id: null, received };
  return new Promise((resolve, reject) => {
    ws.on('error', (error) => reject(new Error(`client ${slot}: ${error.message}`)));
    ws.once('open', () => ws.send(JSON.stringify({ type: 'rtc:resume', data: { id, token, received } })));
    ws.once('bench:resumed', (serverReceived: number) => {
      window.resumeLost += sentInSession - serverReceived;
      client.sentInSession = serverReceived;
      client.id = id;
      resolve(client);
    });
    ws.on('message', (frame: Buffer) => onFrame(client, frame));
    ws.once('close', (code) => {
      if (client.id === null) reject(new Error(`client ${slot}: closed (${code}) before rtc:resumed`));
    });
  });
}

function churn(perSecond: number): NodeJS.Timeout {
  let owed = 0;
  let resume = false;
  return setInterval(() => {
    owed += perSecond;
    for (; owed >= 1; owed -= 1) {
      const slot = Math.floor(Math.random() * clients.length);
      const old = clients[slot] as Client;
      if (old.id === null) continue;
      // Every other churned client resumes its session instead of leaving.
      resume = !resume;
      if (resume && old.token !== null) {
        replace(slot, resumeClient(slot, old), 'resume');
        continue;
      }
      old.id = null; // not a sender any more
      old.ws.close();
      replace(slot, openClient(slot, { name: old.pool, size: old.poolSize }), 'reconnect');
    }
  }, 1000);
}

/** Puts the client a churn made in `slot` once it is back, counting it (or its failure) as `kind`. */
function replace(slot: number, made: Promise<Client>, kind: 'resume' | 'reconnect'): void {
  made.then(
    (client) => {
      clients[slot] = client;
      if (kind === 'resume') window.resumes += 1;
      else window.reconnects += 1;
    },
    (error: unknown) => countError(`${kind}: ${String(error)}`),
  );
}

function start(args: StartArgs) {
  mode = args;
  modeStarted = performance.now();
  modeSent = 0;
  timers.push(setInterval(pump, args.mode === 'paced' ? 10 : 5));
  if (args.mode === 'paced' && args.churnPerSecond) timers.push(churn(args.churnPerSecond));
  pump();
  return null;
}

async function stop() {
  mode = null;
  for (const timer of timers.splice(0)) clearInterval(timer);
  const deadline = performance.now() + 5_000;
  while (inflight > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const lost = inflight;
  inflight = 0;
  return { lost };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
}

function report(): WindowReport {
  const ended = performance.now();
  const cpu = process.cpuUsage(window.cpu);
  const sorted = Float64Array.from(window.samples).sort();
  const result: WindowReport = {
    seconds: (ended - window.started) / 1000,
    sent: window.sent,
    received: window.received,
    latency: {
      count: sorted.length,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: sorted.length ? (sorted[sorted.length - 1] ?? 0) : Number.NaN,
    },
    errors: window.errors,
    cpuMs: (cpu.user + cpu.system) / 1000,
    reconnects: window.reconnects,
    resumes: window.resumes,
    resumeLost: window.resumeLost,
  };
  window = newWindow();
  return result;
}

serveParent(null, { connect, start, stop, report }, () => {
  for (const client of clients) client.ws.terminate();
});
