/**
 * Runs inside Chromium, not in Node. The browser tests bundle this file with
 * esbuild (its rtcpool import stays external and resolves to the separately
 * bundled `/rtcpool.js`) and drive it through `window.harness` (see
 * `browser-driver.ts`): every call takes and returns plain data, so
 * Playwright can carry it across.
 *
 * A peer's outgoing signals go through a {@link HoldablePipe}: in order, each in
 * its own task, as a WebSocket would deliver them. A pipe can be held, which
 * lets the test make both sides offer before either offer arrives: a
 * guaranteed collision rather than a likely one.
 */
import { createNegotiationActor, type NegotiationActor, type OutgoingSignal } from '../../src/index.js';

/** Where a peer's signals go: another peer in this page, or the Node test process. */
export type Route = { to: 'page'; peer: string } | { to: 'node' };

export interface PeerStatus {
  name: string;
  polite: boolean;
  /** The machine's state value, e.g. `{"stable":"idle"}`. */
  state: string;
  /** Machine at rest in stable, and the connection's signaling state stable too. */
  settled: boolean;
  signalingState: RTCSignalingState;
  iceConnectionState: RTCIceConnectionState;
  connectionState: RTCPeerConnectionState;
  /** Every ICE connection state the connection reported, in order. */
  iceStates: RTCIceConnectionState[];
  /** Every connection state the connection reported, in order. */
  connectionStates: RTCPeerConnectionState[];
  localUfrag: string | null;
  /** What getStats says about the ICE transport. */
  transport: TransportStatus;
  /** Descriptions and candidates this side sent, counted as they entered its pipe. */
  sent: { offers: number; answers: number; candidates: number };
  /** Signals waiting in a held pipe. */
  held: number;
  /** Signals this side received (descriptions and candidates). */
  signalsIn: number;
  /** Signals this side sent. */
  signalsOut: number;
  /** The last signal sent was the end of candidates (null). */
  endOfCandidatesSent: boolean;
  /** Addresses of the host candidates this side gathered. */
  hostAddresses: string[];
  ownChannel: RTCDataChannelState | null;
  /** Ready state of the channel the remote side opened, once it has arrived. */
  remoteChannel: RTCDataChannelState | null;
  /** Text of every message received, on either channel. */
  received: string[];
  errors: string[];
}

export interface TransportStatus {
  iceRole: string | null;
  /** ICE username fragments of the selected candidate pair's two ends: the generation carrying traffic. */
  selectedLocalUfrag: string | null;
  selectedRemoteUfrag: string | null;
  selectedPairChanges: number | null;
}

class HoldablePipe {
  private held = false;
  private readonly buffer: OutgoingSignal[] = [];

  constructor(private readonly deliver: (signal: OutgoingSignal) => void) {}

  get heldCount(): number {
    return this.buffer.length;
  }

  send(signal: OutgoingSignal): void {
    if (this.held) this.buffer.push(signal);
    else this.post(signal);
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const signal of this.buffer.splice(0)) this.post(signal);
  }

  private post(signal: OutgoingSignal): void {
    // Timers of equal delay fire in the order they were set: FIFO per pipe.
    setTimeout(() => this.deliver(signal), 0);
  }
}

class Peer {
  readonly pc = new RTCPeerConnection({ iceServers: [] });
  readonly actor: NegotiationActor;
  readonly pipe: HoldablePipe;
  readonly sent = { offers: 0, answers: 0, candidates: 0 };
  readonly iceStates: RTCIceConnectionState[] = [];
  readonly connectionStates: RTCPeerConnectionState[] = [];
  readonly hostAddresses: string[] = [];
  readonly received: string[] = [];
  readonly errors: string[] = [];
  /** Signals in and out, in order, for a failure's report. */
  readonly log: string[] = [];
  ownChannel: RTCDataChannel | null = null;
  remoteChannel: RTCDataChannel | null = null;

  constructor(
    readonly name: string,
    readonly polite: boolean,
    route: Route,
  ) {
    this.pipe = new HoldablePipe((signal) => {
      if (route.to === 'node') void window.rtcpoolSignal(name, signal);
      else peers.get(route.peer)?.receive(signal);
    });
    this.pc.addEventListener('iceconnectionstatechange', () => {
      this.iceStates.push(this.pc.iceConnectionState);
      this.log.push(`ice ${this.pc.iceConnectionState}`);
    });
    this.pc.addEventListener('connectionstatechange', () => {
      this.connectionStates.push(this.pc.connectionState);
      this.log.push(`connection ${this.pc.connectionState}`);
    });
    this.pc.addEventListener('signalingstatechange', () => this.log.push(`signaling ${this.pc.signalingState}`));
    this.pc.addEventListener('negotiationneeded', () => this.log.push('negotiationneeded'));
    this.pc.addEventListener('icecandidate', ({ candidate }) => {
      if (candidate?.type === 'host' && candidate.address) this.hostAddresses.push(candidate.address);
    });
    this.pc.addEventListener('datachannel', ({ channel }) => {
      this.remoteChannel = channel;
      this.collect(channel);
    });
    this.actor = createNegotiationActor({
      pc: this.pc,
      polite,
      peerId: name,
      send: (signal) => {
        if (signal.type === 'candidate') this.sent.candidates += 1;
        else if (signal.description.type === 'offer') this.sent.offers += 1;
        else this.sent.answers += 1;
        this.log.push(
          `out ${signal.type === 'description' ? `${signal.description.type} ${ufragOf(signal.description.sdp)}` : JSON.stringify(signal.candidate)}`,
        );
        this.pipe.send(signal);
      },
      onError: (error) => this.errors.push(`${error.code}: ${error.message}`),
    });
  }

  receive(signal: OutgoingSignal): void {
    this.log.push(
      `in ${signal.type === 'description' ? `${signal.description.type} ${ufragOf(signal.description.sdp)}` : JSON.stringify(signal.candidate)}`,
    );
    if (this.actor.getSnapshot().status !== 'active') return;
    if (signal.type === 'description') this.actor.send({ type: 'signal.description', description: signal.description });
    else this.actor.send({ type: 'signal.candidate', candidate: signal.candidate });
  }

  openChannel(label: string): void {
    this.ownChannel = this.pc.createDataChannel(label);
    this.collect(this.ownChannel);
  }

  async status(): Promise<PeerStatus> {
    const snapshot = this.actor.getSnapshot();
    return {
      name: this.name,
      polite: this.polite,
      state: JSON.stringify(snapshot.value),
      settled: snapshot.matches({ stable: 'idle' }) && this.pc.signalingState === 'stable',
      signalingState: this.pc.signalingState,
      iceConnectionState: this.pc.iceConnectionState,
      connectionState: this.pc.connectionState,
      iceStates: [...this.iceStates],
      connectionStates: [...this.connectionStates],
      localUfrag: ufragOf(this.pc.localDescription?.sdp),
      transport: await this.transport(),
      sent: { ...this.sent },
      held: this.pipe.heldCount,
      signalsIn: this.log.filter((line) => line.startsWith('in ')).length,
      signalsOut: this.log.filter((line) => line.startsWith('out ')).length,
      endOfCandidatesSent: this.log.filter((line) => line.startsWith('out ')).at(-1) === 'out null',
      hostAddresses: [...this.hostAddresses],
      ownChannel: this.ownChannel?.readyState ?? null,
      remoteChannel: this.remoteChannel?.readyState ?? null,
      received: [...this.received],
      errors: [...this.errors],
    };
  }

  private collect(channel: RTCDataChannel): void {
    channel.addEventListener('message', ({ data }) => this.received.push(String(data)));
  }

  private async transport(): Promise<TransportStatus> {
    const stats = await this.pc.getStats();
    for (const report of stats.values()) {
      if (report.type !== 'transport') continue;
      const pair = report.selectedCandidatePairId ? stats.get(report.selectedCandidatePairId) : undefined;
      return {
        iceRole: report.iceRole ?? null,
        selectedLocalUfrag: (pair && stats.get(pair.localCandidateId)?.usernameFragment) ?? null,
        selectedRemoteUfrag: (pair && stats.get(pair.remoteCandidateId)?.usernameFragment) ?? null,
        selectedPairChanges: report.selectedCandidatePairChanges ?? null,
      };
    }
    return { iceRole: null, selectedLocalUfrag: null, selectedRemoteUfrag: null, selectedPairChanges: null };
  }
}

function ufragOf(sdp: string | undefined): string | null {
  return sdp?.match(/^a=ice-ufrag:(\S+)/m)?.[1] ?? null;
}

const peers = new Map<string, Peer>();

function peer(name: string): Peer {
  const found = peers.get(name);
  if (!found) throw new Error(`no peer ${name} in this page`);
  return found;
}

const harness = {
  createPeer(name: string, polite: boolean, route: Route): void {
    peers.set(name, new Peer(name, polite, route));
  },
  /** A signal the Node test process carried from the other page. */
  deliver(name: string, signal: OutgoingSignal): void {
    peer(name).receive(signal);
  },
  hold(names: string[]): void {
    for (const name of names) peer(name).pipe.hold();
  },
  release(names: string[]): void {
    for (const name of names) peer(name).pipe.release();
  },
  /** Each named peer opens a data channel labelled with its name, all in this one task. */
  openChannels(names: string[]): void {
    for (const name of names) peer(name).openChannel(`from-${name}`);
  },
  /** The named peers' next createAnswer fails (once), as a stack's might: the machine must recover. */
  failNextAnswer(names: string[]): void {
    for (const name of names) {
      const { pc } = peer(name);
      const real = pc.createAnswer.bind(pc);
      pc.createAnswer = (() => {
        pc.createAnswer = real;
        return Promise.reject(new DOMException('createAnswer failed on purpose', 'OperationError'));
      }) as unknown as RTCPeerConnection['createAnswer'];
    }
  },
  restartIce(names: string[]): void {
    for (const name of names) peer(name).actor.send({ type: 'app.restartIce' });
  },
  /** Sends on the channel this peer opened, or on the one the remote side opened. */
  send(name: string, channel: 'own' | 'remote', text: string): void {
    const target = channel === 'own' ? peer(name).ownChannel : peer(name).remoteChannel;
    if (!target) throw new Error(`${name} has no ${channel} channel`);
    target.send(text);
  },
  /** Everything about one peer's connection, for a failure's report. */
  async debug(name: string): Promise<unknown> {
    const { pc, log } = peer(name);
    const stats: unknown[] = [];
    for (const report of (await pc.getStats()).values()) {
      if (['candidate-pair', 'local-candidate', 'remote-candidate', 'transport'].includes(report.type))
        stats.push(report);
    }
    return { local: pc.localDescription?.sdp, remote: pc.remoteDescription?.sdp, log, stats };
  },
  status(names: string[]): Promise<PeerStatus[]> {
    return Promise.all(names.map((name) => peer(name).status()));
  },
  /** Stops every actor, which closes its connection. */
  closeAll(): void {
    for (const each of peers.values()) each.actor.stop();
    peers.clear();
  },
};

export type Harness = typeof harness;

declare global {
  interface Window {
    harness: Harness;
    /** Exposed by the Node test process (`page.exposeFunction`) when signals leave the page. */
    rtcpoolSignal: (from: string, signal: OutgoingSignal) => Promise<void>;
  }
}

window.harness = harness;
