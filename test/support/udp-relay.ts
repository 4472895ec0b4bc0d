import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { OutgoingSignal } from '../../src/index.js';
import type { IceCandidate, SessionDescription } from '../../src/types.js';

const LOOPBACK = '127.0.0.1';

/**
 * Opens a UDP socket on 127.0.0.1 with a port of the kernel's choosing. Sends
 * made before the bind completes are queued by Node, so the socket is usable
 * at once; `port` resolves once it is bound.
 */
function bindLoopback(): { socket: Socket; port: Promise<number> } {
  const socket = createSocket('udp4');
  const port = new Promise<number>((resolve) => socket.once('listening', () => resolve(socket.address().port)));
  socket.bind(0, LOOPBACK);
  return { socket, port };
}

/**
 * One relayed ICE candidate, NAT-like: the far side reaches the candidate
 * through `publicSocket`, and each far-side address gets an outbound socket of
 * its own, so the candidate's owner sees every far-side address as a distinct
 * (peer-reflexive) address that only this forwarder serves.
 */
class Forwarder {
  /** Set by {@link UdpRelay.cut}: from then on every packet is dropped. */
  cut = false;
  /** Packets carried in either direction. */
  packets = 0;
  private readonly outbound = new Map<string, Socket>();

  constructor(
    readonly publicSocket: Socket,
    readonly target: { address: string; port: number },
  ) {
    publicSocket.on('message', (message, from) => this.fromFarSide(message, from));
  }

  private fromFarSide(message: Buffer, from: RemoteInfo): void {
    if (this.cut || from.address !== LOOPBACK) return;
    const key = `${from.address}:${from.port}`;
    let socket = this.outbound.get(key);
    if (!socket) {
      const created = bindLoopback().socket;
      created.on('message', (reply, replyFrom) => {
        if (this.cut || replyFrom.address !== this.target.address || replyFrom.port !== this.target.port) return;
        this.packets += 1;
        this.publicSocket.send(reply, from.port, from.address);
      });
      this.outbound.set(key, created);
      socket = created;
    }
    this.packets += 1;
    socket.send(message, this.target.port, this.target.address);
  }

  close(): void {
    for (const socket of [this.publicSocket, ...this.outbound.values()]) socket.close();
    this.outbound.clear();
  }
}

/** The fields of an `a=candidate` attribute that a relay cares about. */
interface ParsedCandidate {
  protocol: string;
  address: string;
  port: number;
  /** Splits the attribute around address and port, to put new ones in. */
  rewrite: (address: string, port: number) => string;
}

function parseCandidate(attribute: string): ParsedCandidate | undefined {
  // candidate:<foundation> <component> <protocol> <priority> <address> <port> typ <type> ...
  const match = /^(candidate:\S+ \d+ (\S+) \d+ )(\S+) (\d+)( .*)$/.exec(attribute);
  if (!match) return undefined;
  const [, head, protocol, address, port, tail] = match as unknown as [string, string, string, string, string, string];
  return {
    protocol: protocol.toLowerCase(),
    address,
    port: Number(port),
    rewrite: (newAddress, newPort) => `${head}${newAddress} ${newPort}${tail}`,
  };
}

/**
 * A path between two WebRTC endpoints that the test controls. Every trickled
 * UDP candidate on 127.0.0.1 is replaced by a forwarder on 127.0.0.1 that
 * relays to it; every other candidate (TCP, IPv6, other interfaces, and the
 * candidates a stack writes into the SDP body) is dropped, so no packet
 * between the endpoints bypasses the relay. {@link cut} then silences every
 * forwarder that exists at that moment: the path is gone, yet candidates
 * gathered later (an ICE restart) get new, working forwarders.
 */
export class UdpRelay {
  private readonly forwarders: Forwarder[] = [];
  /** Trickled candidates dropped rather than relayed, for the test's report. */
  dropped = 0;
  /** Candidates removed from SDP bodies. */
  droppedFromSdp = 0;

  /** Forwarders opened so far, oldest first. */
  get count(): number {
    return this.forwarders.length;
  }

  /** Packets carried by the forwarders opened at or after `from` (an earlier {@link count}). */
  packetsSince(from: number): number {
    return this.forwarders.slice(from).reduce((sum, forwarder) => sum + forwarder.packets, 0);
  }

  /** Every forwarder that exists now drops everything from now on. */
  cut(): void {
    for (const forwarder of this.forwarders) forwarder.cut = true;
  }

  close(): void {
    for (const forwarder of this.forwarders.splice(0)) forwarder.close();
  }

  /**
   * The signal as it should reach the far side: candidates re-pointed at a
   * new forwarder, or `undefined` for a candidate that must not be seen.
   */
  async rewrite(signal: OutgoingSignal): Promise<OutgoingSignal | undefined> {
    if (signal.type === 'description') {
      this.droppedFromSdp += signal.description.sdp.match(/^a=candidate:/gm)?.length ?? 0;
      return { type: 'description', description: stripCandidates(signal.description) };
    }
    if (signal.candidate === null) return signal;
    const candidate = await this.relayCandidate(signal.candidate);
    return candidate ? { type: 'candidate', candidate } : undefined;
  }

  private async relayCandidate(candidate: IceCandidate): Promise<IceCandidate | undefined> {
    const attribute = candidate.candidate.replace(/^a=/, '');
    const parsed = parseCandidate(attribute);
    if (parsed?.protocol !== 'udp' || parsed.address !== LOOPBACK) {
      this.dropped += 1;
      return undefined;
    }
    const { socket, port: bound } = bindLoopback();
    this.forwarders.push(new Forwarder(socket, { address: parsed.address, port: parsed.port }));
    const port = await bound;
    return { ...candidate, candidate: parsed.rewrite(LOOPBACK, port) };
  }
}

/**
 * Removes the candidates a stack wrote into the SDP body (libwebrtc does once
 * gathering has run; werift too) and the default address they imply, so the
 * far side learns addresses only through the relayed trickle.
 */
export function stripCandidates(description: SessionDescription): SessionDescription {
  const lines = description.sdp.split('\r\n').filter((line) => !/^a=(candidate:|end-of-candidates)/.test(line));
  const sdp = lines
    .map((line) => line.replace(/^c=IN IP4 \S+$/, 'c=IN IP4 0.0.0.0').replace(/^(m=\S+) \d+ /, '$1 9 '))
    .join('\r\n');
  return { type: description.type, sdp };
}

/**
 * One direction of a signalling channel whose candidates go through `relay`.
 * Rewriting a candidate waits for its forwarder to bind; signals still arrive
 * in the order they were sent, each in its own macrotask.
 */
export class RelayedSignalPipe {
  descriptions = 0;
  private chain: Promise<void> = Promise.resolve();
  private deliver: ((signal: OutgoingSignal) => void) | undefined;

  constructor(private readonly relay: UdpRelay) {}

  connect(deliver: (signal: OutgoingSignal) => void): void {
    this.deliver = deliver;
  }

  readonly send = (signal: OutgoingSignal): void => {
    if (signal.type === 'description') this.descriptions += 1;
    this.chain = this.chain.then(async () => {
      const rewritten = await this.relay.rewrite(signal);
      await new Promise((resolve) => setImmediate(resolve));
      if (rewritten) this.deliver?.(rewritten);
    });
  };
}
