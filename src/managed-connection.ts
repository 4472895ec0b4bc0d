import { Observable } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import type { JsonValue } from '../machines/pool.js';
import { CONTROL_CHANNEL, type PoolPeerConnection } from './pool-actor.js';

/** The events a managed connection lets the application listen to. */
export type ManagedConnectionEventType = 'track' | 'datachannel';

/** What a managed connection needs of a real connection beyond negotiation. */
export interface MediaPeerConnection extends PoolPeerConnection {
  createDataChannel(label: string, options?: object): DataChannelLike;
  addTrack(track: unknown, ...streams: unknown[]): unknown;
  removeTrack(sender: unknown): void;
}

/** The parts of an `RTCDataChannel` the pool relies on. */
export interface DataChannelLike {
  readonly label: string;
  readonly readyState: string;
  addEventListener(type: string, listener: (event: unknown) => void): void;
  removeEventListener(type: string, listener: (event: unknown) => void): void;
}

/**
 * One remote peer of a pool: its id, its trusted description, data channels
 * and media. Negotiation is automatic; adding a track or a channel is enough.
 *
 * @example
 * pool.events.addEventListener('peer', ({ detail: { connection } }) => {
 *   connection.dataChannel('chat').then((channel) => channel.send('hello'));
 *   connection.addEventListener('track', ({ detail }) => video.srcObject = detail.streams[0]);
 * });
 */
export class ManagedConnection extends EventTarget {
  readonly id: string;
  readonly #pc: MediaPeerConnection;
  readonly #description: () => JsonValue;
  readonly #negotiator: () => AnyActorRef | undefined;
  readonly #seenTracks = new Set<string>();
  readonly #release: () => void;

  /** @internal created by the pool */
  constructor(
    id: string,
    pc: MediaPeerConnection,
    description: () => JsonValue,
    negotiator: () => AnyActorRef | undefined,
  ) {
    super();
    this.id = id;
    this.#pc = pc;
    this.#description = description;
    this.#negotiator = negotiator;
    const onTrack = (event: unknown) => {
      const { track, transceiver, streams } = event as {
        track?: { id?: string };
        transceiver?: { mid?: string | null };
        streams?: unknown[];
      };
      // werift reports a track again after every renegotiation: one event per remote track.
      const key = track?.id ?? transceiver?.mid ?? '';
      if (this.#seenTracks.has(key)) return;
      this.#seenTracks.add(key);
      this.dispatchEvent(new CustomEvent('track', { detail: { connection: this, track, streams: streams ?? [] } }));
    };
    const onDataChannel = (event: unknown) => {
      const { channel } = event as { channel: DataChannelLike };
      // The pool's own channel is not the application's.
      if (channel.label === CONTROL_CHANNEL) return;
      this.dispatchEvent(new CustomEvent('datachannel', { detail: { connection: this, channel } }));
    };
    pc.addEventListener('track', onTrack);
    pc.addEventListener('datachannel', onDataChannel);
    this.#release = () => {
      pc.removeEventListener('track', onTrack);
      pc.removeEventListener('datachannel', onDataChannel);
    };
  }

  /** The trusted description the server set for this peer (null when none). */
  get description(): JsonValue {
    return this.#description();
  }

  /** Where this connection's negotiation stands, e.g. `{ stable: 'idle' }` or `'makingOffer'`. */
  get negotiationState(): unknown {
    return this.#negotiator()?.getSnapshot().value ?? 'closed';
  }

  /** The negotiation state as a stream, starting with the current one. */
  get negotiationState$(): Observable<unknown> {
    return new Observable((subscriber) => {
      const actor = this.#negotiator();
      if (!actor) {
        subscriber.next('closed');
        subscriber.complete();
        return undefined;
      }
      subscriber.next(actor.getSnapshot().value);
      const subscription = actor.subscribe({
        next: (snapshot) => subscriber.next(snapshot.value),
        complete: () => subscriber.complete(),
        error: (error) => subscriber.error(error),
      });
      return () => subscription.unsubscribe();
    });
  }

  /**
   * Opens a data channel to this peer. Resolves with the channel once it is
   * open (rejects if it closes first); with `raw`, returns it at once.
   */
  dataChannel(label: string, options?: object, raw?: false): Promise<DataChannelLike>;
  dataChannel(label: string, options: object | undefined, raw: true): DataChannelLike;
  dataChannel(label: string, options: object = {}, raw = false): Promise<DataChannelLike> | DataChannelLike {
    const channel = this.#pc.createDataChannel(label, options);
    if (raw) return channel;
    return new Promise((resolve, reject) => {
      if (channel.readyState === 'open') return resolve(channel);
      const settle = (open: boolean) => () => {
        channel.removeEventListener('open', opened);
        channel.removeEventListener('close', closed);
        if (open) resolve(channel);
        else reject(new Error(`data channel "${label}" to ${this.id} closed before it opened`));
      };
      const opened = settle(true);
      const closed = settle(false);
      channel.addEventListener('open', opened);
      channel.addEventListener('close', closed);
    });
  }

  /** Sends a track to this peer; renegotiation follows on its own. */
  addTrack(track: unknown, ...streams: unknown[]): unknown {
    return this.#pc.addTrack(track, ...streams);
  }

  /** Stops sending what `addTrack` started. */
  removeTrack(sender: unknown): void {
    this.#pc.removeTrack(sender);
  }

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: AddEventListenerOptions | boolean,
  ): void {
    if (type !== 'track' && type !== 'datachannel') {
      throw new TypeError(`ManagedConnection only dispatches "track" and "datachannel", not "${type}"`);
    }
    super.addEventListener(type, listener, options);
  }

  /** @internal the pool calls this when the peer leaves */
  dispose(): void {
    this.#release();
  }
}
