/**
 * One endpoint of the NAT tests, run as a child process inside a network
 * namespace: `ip netns exec NS node --import tsx test/support/nat-peer.ts '<json>'`
 * with a {@link NatPeerConfig}. A real `Pool` on `@roamhq/wrtc` signalling
 * over a raw WebSocket to the server; every pair it meets gets a data
 * channel from each side carrying one message.
 *
 * Commands, one a line on stdin: `join` (join the pool now; the clock for
 * the timings starts here), `status` (report every connection's states and
 * candidates), `quit`. Reports, one JSON object a line on stdout: see
 * {@link NatPeerReport}.
 */
import { createInterface } from 'node:readline';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';
import { Pool } from '../../src/pool.js';
import { Signalling } from '../../src/signalling/index.js';

export interface NatPeerConfig {
  name: string;
  /** The server's WebSocket endpoint, `ws://host:port/ws`. */
  url: string;
  pool: string;
  /** ICE servers of the peer's own; omitted, the pool's configuration has none and uses what the server hands it. */
  iceServers?: RTCIceServer[];
}

/** A candidate as getStats reports it. */
export interface CandidateInfo {
  type: string;
  address: string;
  port: number;
  protocol: string;
  relayProtocol?: string;
}

/** What the RTCPeerConnection runs on (`getConfiguration()`), credentials left out. */
export interface ConfigurationInfo {
  /** Every ICE server URL. */
  iceServers: string[];
  /** The TURN usernames (TURN REST: `<unix expiry>:<name>`). */
  usernames: string[];
  iceTransportPolicy: string;
}

export interface ConnectionStatus {
  peer: string;
  connectionState: string;
  iceConnectionState: string;
  /** Types of the candidates this side gathered, and of those it learnt of (`host`, `srflx`, `prflx`, `relay`). */
  localTypes: string[];
  remoteTypes: string[];
  /** Candidate pairs by state (`succeeded`, `failed`, `in-progress`, ...). */
  pairs: Record<string, number>;
  configuration: ConfigurationInfo;
}

export type NatPeerReport =
  | { type: 'ready' }
  | { type: 'joined'; id: string; ms: number }
  | {
      type: 'connected';
      peer: string;
      /** From `join` to the connection's `connected` state, and to the first data-channel message received. */
      connectedMs: number;
      /** From `join` to ICE `connected`, and to ICE gathering `complete` (null: not complete yet). */
      iceConnectedMs: number | null;
      gatheringCompleteMs: number | null;
      firstMessageMs: number;
      message: string;
      local: CandidateInfo;
      remote: CandidateInfo;
      /** Types of every candidate this side gathered. */
      gathered: string[];
      configuration: ConfigurationInfo;
    }
  | { type: 'status'; connections: ConnectionStatus[] }
  | { type: 'error'; message: string };

type PeerConnectionClass = new (configuration?: RTCConfiguration) => RTCPeerConnection;
type Stat = Record<string, unknown>;

function report(line: NatPeerReport): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const config = JSON.parse(process.argv[2] ?? '{}') as NatPeerConfig;
/** Per connection: the peer, and when (ms from `join`) it connected, ICE connected and gathering completed. */
interface Timings {
  peer: string | undefined;
  connectedMs?: number;
  iceConnectedMs?: number;
  gatheringCompleteMs?: number;
}
const pcs = new Map<RTCPeerConnection, Timings>();
const Base = wrtc.RTCPeerConnection as unknown as PeerConnectionClass;
let joinedAt = 0;
let pool: Pool | undefined;

const since = () => Math.round(performance.now() - joinedAt);

function statsOf(report: RTCStatsReport): Stat[] {
  const all: Stat[] = [];
  report.forEach((stat: Stat) => {
    all.push(stat);
  });
  return all;
}

function candidate(stat: Stat | undefined): CandidateInfo {
  return {
    type: String(stat?.candidateType),
    address: String(stat?.address ?? stat?.ip),
    port: Number(stat?.port),
    protocol: String(stat?.protocol),
    ...(typeof stat?.relayProtocol === 'string' ? { relayProtocol: stat.relayProtocol } : {}),
  };
}

function configurationOf(pc: RTCPeerConnection): ConfigurationInfo {
  const { iceServers = [], iceTransportPolicy = 'all' } = pc.getConfiguration();
  return {
    iceServers: iceServers.flatMap(({ urls }) => (Array.isArray(urls) ? urls : [urls])),
    usernames: iceServers.flatMap(({ username }) => (username ? [username] : [])),
    iceTransportPolicy,
  };
}

/** The selected pair: the transport's `selectedCandidatePairId`, else the nominated succeeded pair. */
async function selectedPair(pc: RTCPeerConnection) {
  const stats = statsOf(await pc.getStats());
  const byId = new Map(stats.map((stat) => [String(stat.id), stat]));
  const transport = stats.find((stat) => stat.type === 'transport' && stat.selectedCandidatePairId);
  const pair =
    (transport && byId.get(String(transport.selectedCandidatePairId))) ??
    stats.find((stat) => stat.type === 'candidate-pair' && stat.nominated && stat.state === 'succeeded');
  return {
    local: candidate(pair && byId.get(String(pair.localCandidateId))),
    remote: candidate(pair && byId.get(String(pair.remoteCandidateId))),
    gathered: [...new Set(stats.filter((s) => s.type === 'local-candidate').map((s) => String(s.candidateType)))],
    stats,
  };
}

async function status(): Promise<void> {
  const connections: ConnectionStatus[] = [];
  for (const [pc, { peer }] of pcs) {
    const { stats } = await selectedPair(pc);
    const types = (kind: string) => [
      ...new Set(stats.filter((s) => s.type === kind).map((s) => String(s.candidateType))),
    ];
    const pairs: Record<string, number> = {};
    for (const s of stats) if (s.type === 'candidate-pair') pairs[String(s.state)] = (pairs[String(s.state)] ?? 0) + 1;
    connections.push({
      peer: peer ?? '?',
      connectionState: pc.connectionState,
      iceConnectionState: pc.iceConnectionState,
      localTypes: types('local-candidate'),
      remoteTypes: types('remote-candidate'),
      pairs,
      configuration: configurationOf(pc),
    });
  }
  report({ type: 'status', connections });
}

function join(): void {
  joinedAt = performance.now();
  const signalling = new Signalling.websocket(() => new WebSocket(config.url));
  // Without ICE servers of its own the configuration names none: whatever the pool uses, the server gave it.
  const joined = new Pool(config.iceServers ? { iceServers: config.iceServers } : {}, signalling, {
    RTCPeerConnection: class extends Base {
      constructor(configuration?: RTCConfiguration) {
        super(configuration);
        const entry: Timings = { peer: undefined };
        pcs.set(this, entry);
        this.addEventListener('connectionstatechange', () => {
          if (this.connectionState === 'connected') entry.connectedMs ??= since();
        });
        this.addEventListener('iceconnectionstatechange', () => {
          if (this.iceConnectionState === 'connected' || this.iceConnectionState === 'completed')
            entry.iceConnectedMs ??= since();
        });
        this.addEventListener('icegatheringstatechange', () => {
          if (this.iceGatheringState === 'complete') entry.gatheringCompleteMs ??= since();
        });
      }
    },
  });
  pool = joined;
  joined.events.addEventListener('peer', ({ detail: { connection } }) => {
    const entry = pcs.get(connection.peerConnection);
    if (entry) entry.peer = connection.id;
    connection
      .dataChannel(`from-${config.name}`)
      .then((channel) => channel.send(`hello from ${config.name}`))
      .catch((error: unknown) => report({ type: 'error', message: `dataChannel: ${String(error)}` }));
  });
  const heard = new Set<string>();
  joined.events.addEventListener('datachannel', ({ detail: { connection, channel } }) => {
    channel.addEventListener('message', ({ data }: MessageEvent) => {
      if (heard.has(connection.id)) return;
      heard.add(connection.id);
      const firstMessageMs = since();
      const pc = connection.peerConnection;
      void selectedPair(pc).then(({ local, remote, gathered }) =>
        report({
          type: 'connected',
          peer: connection.id,
          connectedMs: pcs.get(pc)?.connectedMs ?? firstMessageMs,
          iceConnectedMs: pcs.get(pc)?.iceConnectedMs ?? null,
          gatheringCompleteMs: pcs.get(pc)?.gatheringCompleteMs ?? null,
          firstMessageMs,
          message: String(data),
          local,
          remote,
          gathered,
          configuration: configurationOf(pc),
        }),
      );
    });
  });
  joined.events.addEventListener('error', ({ detail }) =>
    report({ type: 'error', message: `${detail.error.code}: ${detail.error.message}` }),
  );
  joined.join(config.pool).then(
    (id) => report({ type: 'joined', id, ms: since() }),
    (error: unknown) => report({ type: 'error', message: `join: ${String(error)}` }),
  );
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'join') join();
  else if (command === 'status') void status();
  else if (command === 'quit') {
    pool?.close();
    process.exit(0);
  }
});
// Ends with the test's end of stdin too (the parent died): wrtc's threads would keep it alive.
process.stdin.once('end', () => process.exit(0));
report({ type: 'ready' });
