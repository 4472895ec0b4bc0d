import type { ManagedConnection } from './managed-connection.js';
import type { PoolPeerConnection, SenderOf, StreamOf, TrackOf } from './platform.js';
import type { Pool } from './pool.js';

/** The parts of a `MediaStreamTrack` a managed stream uses. */
export interface TrackLike {
  /** Unique per track. */
  readonly id: string;
  /** `audio` or `video`: what {@link ManagedStream.mute} and `replaceTrack` select by. */
  readonly kind: string;
  /** False while muted: the peers receive silence or black frames. */
  enabled: boolean;
  /** `ended` once the track stops for good (the user revoked the camera, the screen share ended). */
  readonly readyState?: string;
  /** Watches for the track ending: sharing ends once every shared track has. */
  addEventListener(type: 'ended', listener: () => void): void;
  /** Stops watching for the end. */
  removeEventListener(type: 'ended', listener: () => void): void;
}

/** The parts of a `MediaStream` a managed stream uses. */
export interface StreamLike {
  /** Unique per stream; the far side sees the same id (see {@link ManagedStream.getConnection}). */
  readonly id: string;
  /** The tracks to share at first. */
  getTracks(): readonly unknown[];
  /** Used when present, to keep the local stream showing what is shared. */
  addTrack?(track: never): void;
  /** Used when present, for the same reason. */
  removeTrack?(track: never): void;
}

/** A kind of track, for muting and replacing by kind. */
export type MediaKind = 'audio' | 'video';

/** A track being sent to one peer, and the sender carrying it. */
interface Sending<PC extends PoolPeerConnection> {
  track: TrackOf<PC>;
  sender: SenderOf<PC>;
}

const like = (track: unknown) => track as TrackLike;

/**
 * Shares one local stream with every peer of a pool, present and future, and
 * keeps the stream each peer sends back (one per peer).
 *
 * Muting disables the local tracks (`track.enabled = false`): peers receive
 * silence or black frames, the connections stay up and nothing is
 * renegotiated. {@link replaceTrack} swaps what every peer receives (another
 * camera, the screen) without renegotiating either. {@link addTrack},
 * {@link removeTrack} and {@link close} change what is sent, which
 * renegotiates.
 *
 * @example
 * const camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
 * const shared = new media.ManagedStream(camera, pool);
 * shared.mute('audio');
 * const [screen] = (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks();
 * if (screen) await shared.replaceTrack('video', screen);
 */
export class ManagedStream<PC extends PoolPeerConnection = RTCPeerConnection> extends EventTarget {
  readonly #stream: StreamOf<PC>;
  readonly #pool: Pool<PC>;
  /** What is shared now, in order; starts as the stream's tracks. */
  #tracks: TrackOf<PC>[];
  readonly #sending = new Map<string, Sending<PC>[]>();
  /** The stream received from each peer. */
  readonly #remote = new Map<string, StreamOf<PC>>();
  readonly #onPeer = ({ detail }: CustomEvent<{ connection: ManagedConnection<PC> }>) => this.#send(detail.connection);
  readonly #onClose = ({ detail: connection }: CustomEvent<ManagedConnection<PC> | null>) => {
    // The pool closed: its connections are gone, there is nothing to remove.
    if (connection === null) return this.#end();
    this.#sending.delete(connection.id);
    this.#remote.delete(connection.id);
  };
  readonly #onStop = () => this.#end();
  readonly #onTrack = ({
    detail,
  }: CustomEvent<{ connection: ManagedConnection<PC>; streams: readonly StreamOf<PC>[] }>) => {
    const stream = detail.streams[0];
    if (stream) this.#remote.set(detail.connection.id, stream);
  };
  readonly #onEnded = () => {
    if (this.#tracks.every((track) => like(track).readyState === 'ended')) this.#end();
  };
  #closed = false;

  constructor(mediaStream: StreamOf<PC>, pool: Pool<PC>) {
    super();
    this.#stream = mediaStream;
    this.#pool = pool;
    this.#tracks = [...(mediaStream as StreamLike).getTracks()] as TrackOf<PC>[];
    for (const connection of pool.connections) this.#send(connection);
    pool.events.addEventListener('peer', this.#onPeer);
    pool.events.addEventListener('close', this.#onClose);
    pool.events.addEventListener('stop', this.#onStop);
    pool.events.addEventListener('track', this.#onTrack);
    for (const track of this.#tracks) like(track).addEventListener('ended', this.#onEnded);
  }

  /** The local tracks being shared. */
  get tracks(): TrackOf<PC>[] {
    return [...this.#tracks];
  }

  /**
   * True once sharing has ended: {@link close}, the pool ended, or every shared track ended. The
   * stream dispatches a `close` event then.
   */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops sending sound or picture (`kind`), or both; the connections stay as they are. */
  mute(kind?: MediaKind | null): void {
    for (const track of this.#of(kind)) like(track).enabled = false;
  }

  /** Sends sound or picture (`kind`), or both, again after {@link mute}. */
  unmute(kind?: MediaKind | null): void {
    for (const track of this.#of(kind)) like(track).enabled = true;
  }

  /** True when every track of `kind` (or every track) is muted. */
  muted(kind?: MediaKind | null): boolean {
    const tracks = this.#of(kind);
    return tracks.length > 0 && tracks.every((track) => !like(track).enabled);
  }

  /**
   * Sends `track` instead of the shared track of its `kind`, to every peer
   * now and every peer that joins later, through `RTCRtpSender.replaceTrack`:
   * no renegotiation, no SDP sent, the far side's track and stream stay the
   * same and show the new picture or sound. The new track takes over the
   * muted state of the old one; the old one is not stopped (the application
   * owns it). Resolves once every peer's sender has switched.
   *
   * @example
   * const [screen] = (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks();
   * if (screen) await shared.replaceTrack('video', screen);
   */
  async replaceTrack(kind: MediaKind, track: TrackOf<PC>): Promise<void> {
    if (this.#closed) throw new Error('ManagedStream: closed');
    if (like(track).kind !== kind)
      throw new TypeError(`replaceTrack('${kind}', track): the track is ${like(track).kind}`);
    const old = this.#tracks.find((candidate) => like(candidate).kind === kind);
    if (!old) throw new TypeError(`ManagedStream: no ${kind} track to replace (addTrack adds one)`);
    like(track).enabled = like(old).enabled;
    this.#tracks = this.#tracks.map((candidate) => (candidate === old ? track : candidate));
    this.#swapInStream(old, track);
    like(old).removeEventListener('ended', this.#onEnded);
    like(track).addEventListener('ended', this.#onEnded);
    const switching: Promise<void>[] = [];
    for (const sending of this.#sending.values()) {
      for (const entry of sending) {
        if (entry.track !== old) continue;
        entry.track = track;
        switching.push((entry.sender as { replaceTrack(track: unknown): Promise<void> }).replaceTrack(track));
      }
    }
    await Promise.all(switching);
  }

  /** Shares one more track with every peer, now and later (renegotiates). */
  addTrack(track: TrackOf<PC>): void {
    if (this.#closed || this.#tracks.includes(track)) return;
    this.#tracks.push(track);
    this.#swapInStream(undefined, track);
    like(track).addEventListener('ended', this.#onEnded);
    for (const [peerId, sending] of this.#sending) {
      const connection = this.#pool.getConnection(peerId);
      if (connection) sending.push({ track, sender: connection.addTrack(track, this.#stream) });
    }
  }

  /** Stops sharing one track with every peer (renegotiates); the track itself is not stopped. */
  removeTrack(track: TrackOf<PC>): void {
    if (this.#closed || !this.#tracks.includes(track)) return;
    this.#tracks = this.#tracks.filter((candidate) => candidate !== track);
    this.#swapInStream(track, undefined);
    like(track).removeEventListener('ended', this.#onEnded);
    for (const [peerId, sending] of this.#sending) {
      const kept = sending.filter((entry) => entry.track !== track);
      for (const entry of sending) if (entry.track === track) this.#unsend(peerId, entry.sender);
      this.#sending.set(peerId, kept);
    }
  }

  /** Whether a stream received from a peer has this id. */
  hasStream(id: string): boolean {
    return this.getConnection(id) !== undefined;
  }

  /** The stream peer `peerId` sends, once its first track arrived. */
  getStream(peerId: string): StreamOf<PC> | undefined {
    return this.#remote.get(peerId);
  }

  /** The connection a received stream came over. */
  getConnection(streamId: string): ManagedConnection<PC> | undefined {
    for (const [peerId, stream] of this.#remote) {
      if ((stream as StreamLike).id === streamId) return this.#pool.getConnection(peerId);
    }
    return undefined;
  }

  /** Stops sharing: the tracks are removed from every connection (which renegotiates). */
  close(): void {
    if (this.#closed) return;
    for (const [peerId, sending] of this.#sending) {
      for (const { sender } of sending) this.#unsend(peerId, sender);
    }
    this.#end();
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sending.clear();
    this.#pool.events.removeEventListener('peer', this.#onPeer);
    this.#pool.events.removeEventListener('close', this.#onClose);
    this.#pool.events.removeEventListener('stop', this.#onStop);
    this.#pool.events.removeEventListener('track', this.#onTrack);
    for (const track of this.#tracks) like(track).removeEventListener('ended', this.#onEnded);
    this.dispatchEvent(new Event('close'));
  }

  #send(connection: ManagedConnection<PC>): void {
    if (this.#closed || this.#sending.has(connection.id)) return;
    this.#sending.set(
      connection.id,
      this.#tracks
        .filter((track) => like(track).readyState !== 'ended')
        .map((track) => ({ track, sender: connection.addTrack(track, this.#stream) })),
    );
  }

  #unsend(peerId: string, sender: SenderOf<PC>): void {
    // A connection closed meanwhile has nothing left to remove (and throws InvalidStateError).
    try {
      this.#pool.getConnection(peerId)?.removeTrack(sender);
    } catch {}
  }

  /** Keeps the local stream in step, so that it shows what is shared (a preview, a recording). */
  #swapInStream(out: TrackOf<PC> | undefined, into: TrackOf<PC> | undefined): void {
    const stream = this.#stream as StreamLike;
    if (out !== undefined) stream.removeTrack?.(out as never);
    if (into !== undefined) stream.addTrack?.(into as never);
  }

  #of(kind?: MediaKind | null): TrackOf<PC>[] {
    return kind ? this.#tracks.filter((track) => like(track).kind === kind) : this.#tracks;
  }
}

/** The original's `media` namespace: `new media.ManagedStream(stream, pool)`. */
export const media = {
  /** {@link ManagedStream} under its original path. */
  ManagedStream,
};
