/**
 * Real NATs, simulated: real `Pool`s on @roamhq/wrtc, each in a child
 * process inside a network namespace, meet through `rtcpool serve` and
 * coturn in a "public" namespace (test/support/netns.ts has the layout).
 * The peers configure no ICE servers: the server hands them out in
 * `rtc:joined` (`--stun`, `--turn` with the secret shared with coturn in
 * RTCPOOL_TURN_SECRET: TURN REST credentials minted per endpoint).
 * Behind two symmetric NATs the peers only meet through TURN, and do so
 * without being told to; behind endpoint-independent NATs STUN suffices; a
 * public host and a NATed one need neither. Each case prints the candidate
 * pair both sides selected and the time from `join` to the first
 * data-channel message. Needs root (CI runs as root): it fails, not skips,
 * without.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Coturn, startCoturn } from '../support/coturn.js';
import type { NatPeerConfig, NatPeerReport } from '../support/nat-peer.js';
import type { ProbeResult } from '../support/nat-probe.js';
import { assertNetworkCapable, createNetwork, type Network, PUBLIC_ADDRESS } from '../support/netns.js';
import { until } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PEER = fileURLToPath(new URL('../support/nat-peer.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('../support/nat-probe.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** Long enough for a pair that can connect to have done so many times over (they take well under 2 s here). */
const NO_CONNECT_MS = 8_000;
const CONNECT_TIMEOUT_MS = 20_000;

let network: Network;
let coturn: Coturn;
/** A server handing out STUN and TURN, and one handing out STUN only. */
let withTurn: SignallingProcess;
let stunOnly: SignallingProcess;
const summary: string[] = [];

interface SignallingProcess {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Reads a child's stdout line by line. */
function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) onLine(line);
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
  await exited;
  clearTimeout(timer);
}

/** `rtcpool serve` (from the source, through tsx) in the public namespace, on a free port. */
async function startSignalling(turn: boolean): Promise<SignallingProcess> {
  const ice = ['--stun', coturn.stunUrl, ...(turn ? ['--turn', coturn.turnUrl, '--turn-ttl', '600'] : [])];
  const args = ['--import', 'tsx', CLI, 'serve', '--host', PUBLIC_ADDRESS, '--port', '0', '--no-demo', '--no-socketio'];
  const child = network.spawn('public', process.execPath, [...args, ...ice], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The secret shared with coturn, as the command prefers it (a flag would show in ps).
    env: { ...process.env, RTCPOOL_TURN_SECRET: coturn.secret },
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rtcpool serve did not start:\n${output}`)), 20_000);
    lines(child, (line) => {
      output += `${line}\n`;
      const found = /^rtcpool websocket: (\S+)$/.exec(line);
      if (found?.[1]) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rtcpool serve exited (${code}):\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    stop: () => stopChild(child),
  };
}

/** A nat-peer.ts process on one machine of the network. */
interface PeerProcess {
  name: string;
  reports: NatPeerReport[];
  stderr(): string;
  command(line: 'join' | 'status' | 'quit'): void;
  /** The first report of `type` after the first `skip` of them. */
  next<T extends NatPeerReport['type']>(
    type: T,
    timeoutMs?: number,
    skip?: number,
  ): Promise<Extract<NatPeerReport, { type: T }>>;
  stop(): Promise<void>;
}

function startPeer(machine: string, server: SignallingProcess, pool: string): PeerProcess {
  // No ICE servers of its own: the pool uses what the server hands it in `rtc:joined`.
  const config: NatPeerConfig = { name: machine, url: server.url, pool };
  const child = network.spawn(machine, process.execPath, ['--import', 'tsx', PEER, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const reports: NatPeerReport[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  lines(child, (line) => {
    try {
      reports.push(JSON.parse(line) as NatPeerReport);
    } catch {
      stderr += `(stdout) ${line}\n`;
    }
  });
  const find = <T extends NatPeerReport['type']>(type: T, skip: number) =>
    reports.filter((report): report is Extract<NatPeerReport, { type: T }> => report.type === type)[skip];
  return {
    name: machine,
    reports,
    stderr: () => stderr,
    command(line) {
      child.stdin?.write(`${line}\n`);
    },
    async next(type, timeoutMs = CONNECT_TIMEOUT_MS, skip = 0) {
      try {
        await until(
          () => find(type, skip) !== undefined || child.exitCode !== null,
          `${type} from ${machine}`,
          timeoutMs,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}; its reports: ${JSON.stringify(reports)}; stderr: ${stderr}`);
      }
      const found = find(type, skip);
      if (!found) throw new Error(`${machine}'s peer exited (${child.exitCode}) before ${type}:\n${stderr}`);
      return found;
    },
    async stop() {
      child.stdin?.end();
      await stopChild(child);
    },
  };
}

type Connected = Extract<NatPeerReport, { type: 'connected' }>;

/** Starts a peer on each machine, lets them join one pool at the same moment, and returns them. */
async function startPair(machines: [string, string], server: SignallingProcess, pool: string) {
  const peers = machines.map((machine) => startPeer(machine, server, pool)) as [PeerProcess, PeerProcess];
  await Promise.all(peers.map((peer) => peer.next('ready')));
  for (const peer of peers) peer.command('join');
  return peers;
}

/** Both sides' `connected` reports, or an error with everything both peers, the server and coturn said. */
async function connected(
  peers: [PeerProcess, PeerProcess],
  server: SignallingProcess,
): Promise<[Connected, Connected]> {
  try {
    return [await peers[0].next('connected'), await peers[1].next('connected')];
  } catch (error) {
    for (const peer of peers) peer.command('status');
    await new Promise((resolve) => setTimeout(resolve, 500));
    throw new Error(
      `${error instanceof Error ? error.message : error}\n` +
        peers.map((peer) => `${peer.name}: ${JSON.stringify(peer.reports)}\n${peer.stderr()}`).join('\n') +
        `\nserver:\n${server.output()}\ncoturn:\n${coturn.log().slice(-4000)}`,
    );
  }
}

function describePair(label: string, peers: [PeerProcess, PeerProcess], reports: [Connected, Connected]): string {
  // libwebrtc hides a remote peer-reflexive candidate's address in its stats.
  const at = ({ address, port }: Connected['local']) => `${address || '(hidden)'}:${port}`;
  const side = (peer: PeerProcess, report: Connected) =>
    `${peer.name} ${report.local.type}→${report.remote.type} (${at(report.local)} → ${at(report.remote)}) connected ${report.connectedMs} ms, first message ${report.firstMessageMs} ms`;
  const line = `${label}: ${side(peers[0], reports[0])}; ${side(peers[1], reports[1])}`;
  summary.push(line);
  console.info(line);
  return line;
}

/** The pool's error events at a peer: none is expected in any case here. */
function problems(peer: PeerProcess, _connection: Connected): string[] {
  return peer.reports.flatMap((report) => (report.type === 'error' ? [report.message] : []));
}

beforeAll(async () => {
  assertNetworkCapable();
  const started = performance.now();
  network = await createNetwork({
    homes: {
      sym1: 'symmetric',
      sym2: 'symmetric',
      eim1: 'endpoint-independent',
      eim2: 'endpoint-independent',
    },
    open: ['open1', 'open2'],
  });
  const built = performance.now();
  coturn = await startCoturn({
    address: PUBLIC_ADDRESS,
    spawn: (command, args, options) => network.spawn('public', command, args, options),
  });
  [withTurn, stunOnly] = await Promise.all([startSignalling(true), startSignalling(false)]);
  const ms = (from: number, to = performance.now()) => Math.round(to - from);
  console.info(
    `network built in ${ms(started, built)} ms, coturn and two servers up ${ms(built)} ms later\n${network.describe()}`,
  );
});

afterAll(async () => {
  await Promise.all([withTurn?.stop(), stunOnly?.stop(), coturn?.stop()]);
  await network?.destroy();
  if (summary.length) console.info(`NAT summary\n${summary.join('\n')}`);
});

test('the routers map as built: a new port per destination behind the symmetric NAT, one port behind the other', async () => {
  const echo = network.spawn(
    'public',
    process.execPath,
    ['--import', 'tsx', PROBE, 'echo', PUBLIC_ADDRESS, '40001', '40002'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      lines(echo, (line) => line.includes('ready') && resolve());
      echo.once('exit', (code) => reject(new Error(`the echo exited (${code})`)));
    });
    const probe = async (machine: string) =>
      JSON.parse(
        await network.exec(machine, process.execPath, [
          '--import',
          'tsx',
          PROBE,
          'probe',
          `${PUBLIC_ADDRESS}:40001`,
          `${PUBLIC_ADDRESS}:40002`,
        ]),
      ) as ProbeResult;
    const [symmetric, independent, open] = await Promise.all([probe('sym1'), probe('eim1'), probe('open1')]);
    const ports = ({ seen }: ProbeResult) => seen.map(({ port }) => port);
    expect(symmetric.seen.map(({ address }) => address)).toEqual([
      network.wanAddress('sym1'),
      network.wanAddress('sym1'),
    ]);
    expect(new Set(ports(symmetric)).size).toBe(2);
    expect(independent.seen.map(({ address }) => address)).toEqual([
      network.wanAddress('eim1'),
      network.wanAddress('eim1'),
    ]);
    expect(ports(independent)).toEqual([independent.local, independent.local]);
    expect(open.seen).toEqual([
      { address: network.machine('open1').address, port: open.local },
      { address: network.machine('open1').address, port: open.local },
    ]);
    console.info(
      `mappings: symmetric ${symmetric.local} → ${ports(symmetric).join(', ')}; endpoint-independent ${independent.local} → ${ports(independent).join(', ')}`,
    );
  } finally {
    await stopChild(echo, 'SIGKILL');
  }
});

test('case 1a: two symmetric NATs with STUN only never connect', async () => {
  const peers = await startPair(['sym1', 'sym2'], stunOnly, 'sym-stun');
  try {
    await Promise.all(peers.map((peer) => peer.next('joined')));
    const started = Date.now();
    // Bounded: neither side reports a connection within NO_CONNECT_MS.
    await until(
      () =>
        Date.now() - started > NO_CONNECT_MS || peers.some((peer) => peer.reports.some((r) => r.type === 'connected')),
      'the wait',
      NO_CONNECT_MS + 1_000,
    );
    for (const peer of peers) peer.command('status');
    const statuses = await Promise.all(peers.map((peer) => peer.next('status')));
    for (const peer of peers) expect(peer.reports.filter((report) => report.type === 'connected')).toEqual([]);
    for (const [index, status] of statuses.entries()) {
      const [connection] = status.connections;
      expect(status.connections).toHaveLength(1);
      // They did try: each gathered its server-reflexive candidate and learnt the other's, and no pair worked.
      expect(connection?.connectionState).not.toBe('connected');
      expect(connection?.localTypes).toContain('srflx');
      expect(connection?.localTypes).not.toContain('relay');
      expect(connection?.remoteTypes).toContain('srflx');
      expect(connection?.pairs.succeeded ?? 0).toBe(0);
      expect(connection?.configuration.iceServers).toEqual([coturn.stunUrl]);
      const line = `case 1a (symmetric ↔ symmetric, STUN only): ${peers[index]?.name} ${connection?.connectionState}/${connection?.iceConnectionState} after ${NO_CONNECT_MS} ms, local ${connection?.localTypes.join(',')}, remote ${connection?.remoteTypes.join(',')}, pairs ${JSON.stringify(connection?.pairs)}`;
      summary.push(line);
      console.info(line);
    }
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
});

test('case 1b: two symmetric NATs meet through the TURN relay, which the pool uses unasked; a direct pair for comparison', async () => {
  const allocationsBefore = coturn.allocations();
  const peers = await startPair(['sym1', 'sym2'], withTurn, 'sym-turn');
  try {
    const reports = await connected(peers, withTurn);
    describePair('case 1b (symmetric ↔ symmetric, STUN+TURN)', peers, reports);
    expect(reports.flatMap(({ local, remote }) => [local.type, remote.type])).toContain('relay');
    for (const report of reports) expect(report.gathered).toContain('relay');
    // The relay is coturn's, in the public namespace.
    for (const candidate of reports.flatMap(({ local, remote }) => [local, remote]))
      if (candidate.type === 'relay') expect(candidate.address).toBe(coturn.address);
    // No application asked for the relay: the pool's configuration allows every candidate type, and
    // carries TURN REST credentials minted for this endpoint.
    for (const [index, peer] of peers.entries()) {
      const report = reports[index] as Connected;
      const { configuration } = report;
      expect(configuration.iceTransportPolicy).toBe('all');
      expect(configuration.iceServers).toEqual(expect.arrayContaining([coturn.stunUrl, coturn.turnUrl]));
      const { id } = await peer.next('joined');
      const [username] = configuration.usernames;
      const [expiry, name] = (username ?? '').split(':');
      expect(name).toBe(id);
      expect(Number(expiry)).toBeGreaterThan(Date.now() / 1000);
      expect(Number(expiry)).toBeLessThanOrEqual(Date.now() / 1000 + 600 + 5); // --turn-ttl 600
      // ...which coturn accepted: the server's HMAC under the shared secret is the one coturn computes.
      expect(coturn.log()).toContain(`username=<${username}>`);
      expect(problems(peer, report)).toEqual([]);
    }
    expect(coturn.allocations()).toBeGreaterThan(allocationsBefore);
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
  const direct = await startPair(['open1', 'open2'], withTurn, 'direct');
  try {
    const reports = await connected(direct, withTurn);
    describePair('case 1b, for comparison (public ↔ public, no NAT)', direct, reports);
    // No NAT between them: each side's own host address, and the other's, learnt from its signalled host
    // candidate or first from its connectivity check: then peer-reflexive, whose address libwebrtc's stats hide.
    for (const [index, report] of reports.entries()) {
      const [self, other] = index === 0 ? ['open1', 'open2'] : ['open2', 'open1'];
      expect(report.local).toMatchObject({ type: 'host', address: network.machine(self).address });
      if (report.remote.type === 'prflx') expect(['', network.machine(other).address]).toContain(report.remote.address);
      else expect(report.remote).toMatchObject({ type: 'host', address: network.machine(other).address });
    }
    for (const [index, peer] of direct.entries()) expect(problems(peer, reports[index] as Connected)).toEqual([]);
  } finally {
    await Promise.all(direct.map((peer) => peer.stop()));
  }
});

test('case 2: two endpoint-independent NATs connect over server-reflexive candidates, not the relay', async () => {
  const peers = await startPair(['eim1', 'eim2'], withTurn, 'eim');
  try {
    const reports = await connected(peers, withTurn);
    describePair('case 2 (endpoint-independent ↔ endpoint-independent, STUN+TURN offered)', peers, reports);
    for (const report of reports) {
      expect(report.gathered).toContain('relay'); // offered...
      expect([report.local.type, report.remote.type]).not.toContain('relay'); // ...and not used
      expect([report.local.type, report.remote.type]).toContain('srflx');
    }
    for (const [index, peer] of peers.entries()) expect(problems(peer, reports[index] as Connected)).toEqual([]);
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
});

test('case 3: a public host and a host behind a symmetric NAT connect directly, the NATed side seen as peer-reflexive', async () => {
  const peers = await startPair(['open1', 'sym1'], withTurn, 'open-sym');
  try {
    const reports = await connected(peers, withTurn);
    describePair('case 3 (public ↔ symmetric, STUN+TURN offered)', peers, reports);
    const [open, natted] = reports;
    // The public side answers from its host address and meets the NAT's mapping toward it, which no
    // STUN server could have told (a symmetric NAT maps each destination apart): peer-reflexive.
    expect([open.local.type, open.remote.type]).toEqual(['host', 'prflx']);
    expect(natted.remote.type).toBe('host');
    expect(['host', 'prflx']).toContain(natted.local.type);
    for (const [index, peer] of peers.entries()) expect(problems(peer, reports[index] as Connected)).toEqual([]);
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
});
