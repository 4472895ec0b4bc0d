import type { ManagedConnection } from './managed-connection.js';
import type { Pool } from './pool.js';

/** The parts of a `MediaStreamTrack` a managed stream uses. */
export interface TrackLike {
  readonly id: string;
  readonly kind: string;
  enabled: boolean;
  readonly readyState?: string;
  addEventListener(type: 'ended', listener: () => void): void;
  removeEventListener(type: 'ended', listener: () => void): void;
}

/** The parts of a `MediaStream` a managed stream uses. */
export interface StreamLike {
  readonly id: string;
  getTracks(): TrackLike[];
}

export type MediaKind = 'audio' | 'video';

/**
 * Shares one local stream with every peer of a pool, present and future, and
 * keeps the stream each peer sends back (one per peer).
 *
 * Muting disables the local tracks (`track.enabled = false`): peers receive
 * silence or black frames, the connections stay up and nothing is
 * renegotiated. Only `close()` removes the tracks, which renegotiates.
 *
 * @example
 * const camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
 * const shared = new media.ManagedStream(camera, pool);
 * shared.mute('audio');
 * pool.events.ontrack = ({ detail }) => show(shared.getStream(detail.connection.id));
 */
export class ManagedStream extends EventTarget {
  readonly #stream: StreamLike;
  readonly #pool: Pool;
  readonly #senders = new Map<string, unknown[]>();
  /** The stream received from each peer. */
  readonly #remote = new Map<string, StreamLike>();
  readonly #onPeer = (event: Event) =>
    this.#send((event as CustomEvent<{ connection: ManagedConnection }>).detail.connection);
  readonly #onClose = (event: Event) => {
    const connection = (event as CustomEvent<ManagedConnection | null>).detail;
    // The pool closed: its connections are gone, there is nothing to remove.
    if (connection === null) return this.#end();
    this.#senders.delete(connection.id);
    this.#remote.delete(connection.id);
  };
  readonly #onStop = () => this.#end();
  readonly #onTrack = (event: Event) => {
    const { connection, streams } = (event as CustomEvent<{ connection: ManagedConnection; streams: unknown[] }>)
      .detail;
    const stream = streams[0] as StreamLike | undefined;
    if (stream) this.#remote.set(connection.id, stream);
  };
  readonly #onEnded = () => {
    if (this.tracks.every((track) => track.readyState === 'ended')) this.#end();
  };
  #closed = false;

  constructor(mediaStream: StreamLike, pool: Pool) {
    super();
    this.#stream = mediaStream;
    this.#pool = pool;
    for (const connection of pool.connections) this.#send(connection);
    pool.events.addEventListener('peer', this.#onPeer);
    pool.events.addEventListener('close', this.#onClose);
    pool.events.addEventListener('stop', this.#onStop);
    pool.events.addEventListener('track', this.#onTrack);
    for (const track of this.tracks) track.addEventListener('ended', this.#onEnded);
  }

  /** The local tracks being shared. */
  get tracks(): TrackLike[] {
    return this.#stream.getTracks();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops sending sound or picture (`kind`), or both; the connections stay as they are. */
  mute(kind?: MediaKind | null): void {
    for (const track of this.#of(kind)) track.enabled = false;
  }

  unmute(kind?: MediaKind | null): void {
    for (const track of this.#of(kind)) track.enabled = true;
  }

  /** True when every track of `kind` (or every track) is muted. */
  muted(kind?: MediaKind | null): boolean {
    const tracks = this.#of(kind);
    return tracks.length > 0 && tracks.every((track) => !track.enabled);
  }

  /** Whether a stream received from a peer has this id. */
  hasStream(id: string): boolean {
    return this.getConnection(id) !== undefined;
  }

  /** The stream peer `peerId` sends, once its first track arrived. */
  getStream(peerId: string): StreamLike | undefined {
    return this.#remote.get(peerId);
  }

  /** The connection a received stream came over. */
  getConnection(streamId: string): ManagedConnection | undefined {
    for (const [peerId, stream] of this.#remote) {
      if (stream.id === streamId) return this.#pool.getConnection(peerId);
    }
    return undefined;
  }

  /** Stops sharing: the tracks are removed from every connection (which renegotiates). */
  close(): void {
    if (this.#closed) return;
    for (const [peerId, senders] of this.#senders) {
      const connection = this.#pool.getConnection(peerId);
      for (const sender of senders) {
        // A connection closed meanwhile has nothing left to remove (and throws InvalidStateError).
        try {
          connection?.removeTrack(sender);
        } catch {}
      }
    }
    this.#end();
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#senders.clear();
    this.#pool.events.removeEventListener('peer', this.#onPeer);
    this.#pool.events.removeEventListener('close', this.#onClose);
    this.#pool.events.removeEventListener('stop', this.#onStop);
    this.#pool.events.removeEventListener('track', this.#onTrack);
    for (const track of this.tracks) track.removeEventListener('ended', this.#onEnded);
    this.dispatchEvent(new Event('close'));
  }

  #send(connection: ManagedConnection): void {
    if (this.#closed || this.#senders.has(connection.id)) return;
    this.#senders.set(
      connection.id,
      this.tracks
        .filter((track) => track.readyState !== 'ended')
        .map((track) => connection.addTrack(track, this.#stream)),
    );
  }

  #of(kind?: MediaKind | null): TrackLike[] {
    return kind ? this.tracks.filter((track) => track.kind === kind) : this.tracks;
  }
}

/** The original's `media` namespace: `new media.ManagedStream(stream, pool)`. */
export const media = { ManagedStream };
