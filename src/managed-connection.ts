import { Observable } from 'rxjs';
import type { ActorRefFrom, StateValueFrom } from 'xstate';
import type { NegotiationMachine } from '../machines/negotiation.js';
import type { JsonValue, PeerConnectionState } from '../machines/types.js';
import { isPeerConnectionState } from './peer-connection.js';
import type {
  DataChannelInitOf,
  DataChannelOf,
  PoolPeerConnection,
  SenderOf,
  StatsOf,
  StreamOf,
  TrackOf,
} from './platform.js';
import { CONTROL_CHANNEL } from './pool-actor.js';
import { type MediaSectionSummary, mediaSummary } from './sdp.js';

/** The `detail` of each event a managed connection dispatches. */
export interface ManagedConnectionEventDetails<PC extends PoolPeerConnection = RTCPeerConnection> {
  /** A remote track arrived: exactly once per track, on every stack. */
  track: {
    /** The connection it arrived on. */
    connection: ManagedConnection<PC>;
    /** The track (a `MediaStreamTrack` in a browser). */
    track: TrackOf<PC>;
    /** The streams the peer added it to, often one: what a `<video>` element's `srcObject` takes. */
    streams: readonly StreamOf<PC>[];
  };
  /** The peer opened a data channel (the pool's own control channel is never shown). */
  datachannel: {
    /** The connection it was opened on. */
    connection: ManagedConnection<PC>;
    /** The channel (an `RTCDataChannel` in a browser), possibly not open yet. */
    channel: DataChannelOf<PC>;
  };
  /** The connection's state changed (`connecting`, `connected`, `disconnected`, `failed`, `closed`). */
  connectionstatechange: {
    /** The connection whose state changed. */
    connection: ManagedConnection<PC>;
    /** Its new state. */
    state: PeerConnectionState;
  };
}

/** The events a managed connection lets the application listen to. */
export type ManagedConnectionEventType = keyof ManagedConnectionEventDetails;

const EVENT_TYPES: readonly string[] = [
  'track',
  'datachannel',
  'connectionstatechange',
] satisfies ManagedConnectionEventType[];

/**
 * Where a connection's negotiation stands: the negotiation machine's state
 * value (`{ stable: 'idle' }`, `'makingOffer'`, `'awaitingFirstOffer'`, ...;
 * docs/negotiation.md), or `'closed'` once the connection is gone.
 */
export type NegotiationState = StateValueFrom<NegotiationMachine> | 'closed';

/** @internal the pool's own negotiation child for a peer. */
export type NegotiationRef = ActorRefFrom<NegotiationMachine>;

/**
 * One remote peer of a pool: its id, its trusted description, data channels,
 * media, and the controls every WebRTC application reaches for. Negotiation
 * is automatic; adding a track or a channel is enough.
 *
 * Typed for the browser's objects by default (`RTCDataChannel`,
 * `MediaStreamTrack`, `MediaStream`, `RTCRtpSender`, `RTCStatsReport`); a pool
 * on werift hands out werift's (see `Pool`).
 *
 * @example
 * pool.events.addEventListener('peer', async ({ detail: { connection } }) => {
 *   connection.addEventListener('track', ({ detail }) => (video.srcObject = detail.streams[0] ?? null));
 *   const chat = await connection.dataChannel('chat');
 *   chat.send('hello');
 * });
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below only adds typed overloads of EventTarget's methods
export class ManagedConnection<PC extends PoolPeerConnection = RTCPeerConnection> extends EventTarget {
  /** The remote peer's id, as the signalling server assigned it: the key of `pool.getConnection(id)`. */
  readonly id: string;
  readonly #pc: PC;
  readonly #description: () => JsonValue;
  readonly #negotiator: () => NegotiationRef | undefined;
  readonly #seenTracks = new Set<string>();
  readonly #release: () => void;
  #state: PeerConnectionState = 'new';
  #disposed = false;

  /** @internal created by the pool */
  constructor(id: string, pc: PC, description: () => JsonValue, negotiator: () => NegotiationRef | undefined) {
    super();
    this.id = id;
    this.#pc = pc;
    this.#description = description;
    this.#negotiator = negotiator;
    const onTrack = (event: unknown) => {
      const { track, transceiver, streams } = event as {
        track: TrackOf<PC> & { id?: string };
        transceiver?: { mid?: string | null };
        streams?: readonly StreamOf<PC>[];
      };
      // werift reports a track again after every renegotiation: one event per remote track.
      const key = track?.id ?? transceiver?.mid ?? '';
      if (this.#seenTracks.has(key)) return;
      this.#seenTracks.add(key);
      this.#dispatch('track', { connection: this, track, streams: streams ?? [] });
    };
    const onDataChannel = (event: unknown) => {
      const { channel } = event as { channel: DataChannelOf<PC> & { label: string } };
      // The pool's own channel is not the application's.
      if (channel.label === CONTROL_CHANNEL) return;
      this.#dispatch('datachannel', { connection: this, channel });
    };
    const onStateChange = () => {
      const state = pc.connectionState;
      if (!isPeerConnectionState(state) || state === this.#state) return;
      this.#state = state;
      this.#dispatch('connectionstatechange', { connection: this, state });
    };
    pc.addEventListener('track', onTrack);
    pc.addEventListener('datachannel', onDataChannel);
    pc.addEventListener('connectionstatechange', onStateChange);
    this.#release = () => {
      pc.removeEventListener('track', onTrack);
      pc.removeEventListener('datachannel', onDataChannel);
      pc.removeEventListener('connectionstatechange', onStateChange);
    };
  }

  /** The trusted description the server set for this peer (null when none). */
  get description(): JsonValue {
    return this.#description();
  }

  /**
   * The peer connection itself: an escape hatch. Reading from it is always
   * safe (`getStats`, `getTransceivers`, `getSenders`, states, descriptions),
   * and so are the calls that only start a negotiation, which the machine
   * then carries out (`addTrack`, `removeTrack`, `addTransceiver`,
   * `createDataChannel`, a transceiver's `direction`), and those that need
   * none or ask for one with {@link negotiate} (a transceiver's
   * `setCodecPreferences`, a sender's `replaceTrack` or `setParameters`).
   * Never call what the machine owns: `createOffer`, `createAnswer`,
   * `setLocalDescription`, `setRemoteDescription`, `addIceCandidate`,
   * `restartIce` (use {@link restartIce}) or `close` (close the pool); and
   * do not replace its event handlers (`onnegotiationneeded`,
   * `onicecandidate`, ...): add listeners instead.
   */
  get peerConnection(): PC {
    return this.#pc;
  }

  /** The connection's state: `new`, `connecting`, `connected`, `disconnected`, `failed` or `closed`. */
  get connectionState(): PeerConnectionState {
    if (this.#disposed) return 'closed';
    const state = this.#pc.connectionState;
    return isPeerConnectionState(state) ? state : this.#state;
  }

  /** The connection's state now and after every change; completes when the peer leaves or the pool ends. */
  get connectionState$(): Observable<PeerConnectionState> {
    return new Observable((subscriber) => {
      subscriber.next(this.connectionState);
      if (this.#disposed) {
        subscriber.complete();
        return undefined;
      }
      const listener = (event: Event) =>
        subscriber.next((event as CustomEvent<{ state: PeerConnectionState }>).detail.state);
      super.addEventListener('connectionstatechange', listener);
      const ended = () => subscriber.complete();
      super.addEventListener('dispose', ended);
      return () => {
        super.removeEventListener('connectionstatechange', listener);
        super.removeEventListener('dispose', ended);
      };
    });
  }

  /** Where this connection's negotiation stands, e.g. `{ stable: 'idle' }` or `'makingOffer'`. */
  get negotiationState(): NegotiationState {
    return this.#negotiator()?.getSnapshot().value ?? 'closed';
  }

  /** The negotiation state as a stream, starting with the current one. */
  get negotiationState$(): Observable<NegotiationState> {
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
   * What the peer's current description negotiates, per m-section: its kind,
   * mid, direction as the peer wrote it (`sendonly`: the peer sends,
   * nothing comes back), codecs in preference order and whether it is
   * stopped. Empty until the first description arrives.
   */
  get remoteMedia(): MediaSectionSummary[] {
    const remote = this.#pc.remoteDescription;
    return remote ? mediaSummary(remote.sdp) : [];
  }

  /**
   * Opens a data channel to this peer. Resolves with the channel once it is
   * open (rejects if it closes first); with `raw`, returns it at once.
   */
  dataChannel(label: string, options?: DataChannelInitOf<PC>, raw?: false): Promise<DataChannelOf<PC>>;
  dataChannel(label: string, options: DataChannelInitOf<PC> | undefined, raw: true): DataChannelOf<PC>;
  dataChannel(
    label: string,
    options?: DataChannelInitOf<PC>,
    raw = false,
  ): Promise<DataChannelOf<PC>> | DataChannelOf<PC> {
    // The constraint types it loosely; PC's own signature (DataChannelOf) is what it returns.
    const channel = this.#pc.createDataChannel(label, (options ?? {}) as never) as DataChannelOf<PC>;
    if (raw) return channel;
    const opened = channel as DataChannelOf<PC> & { readyState: string } & Pick<EventTarget, 'addEventListener'>;
    return new Promise((resolve, reject) => {
      if (opened.readyState === 'open') return resolve(channel);
      const settle = (open: boolean) => () => {
        opened.removeEventListener('open', onOpen);
        opened.removeEventListener('close', onClose);
        if (open) resolve(channel);
        else reject(new Error(`data channel "${label}" to ${this.id} closed before it opened`));
      };
      const onOpen = settle(true);
      const onClose = settle(false);
      opened.addEventListener('open', onOpen);
      opened.addEventListener('close', onClose);
    });
  }

  /** Sends a track to this peer; renegotiation follows on its own. */
  addTrack(track: TrackOf<PC>, ...streams: StreamOf<PC>[]): SenderOf<PC> {
    return this.#pc.addTrack(track as never, ...(streams as never[])) as SenderOf<PC>;
  }

  /** Stops sending what `addTrack` started; renegotiation follows on its own. */
  removeTrack(sender: SenderOf<PC>): void {
    this.#pc.removeTrack(sender as never);
  }

  /**
   * Negotiates now, through the same glare-safe offer path as every change:
   * for a change the browser does not announce with `negotiationneeded`
   * (neither Chromium nor Firefox does for `setCodecPreferences` or a header
   * extension change). An offer that would change nothing is not sent, so
   * calling this needlessly costs no message.
   */
  negotiate(): void {
    this.#negotiator()?.send({ type: 'pc.negotiationneeded' });
  }

  /**
   * Restarts ICE (new credentials, new candidates) through the glare-safe
   * offer path: safe while the other side restarts too, or while anything
   * else is being negotiated. For a path that broke; a `failed` connection
   * restarts on its own.
   */
  restartIce(): void {
    this.#negotiator()?.send({ type: 'app.restartIce' });
  }

  /** The connection's statistics (`RTCStatsReport` in a browser): round-trip time, bitrates, the selected candidate pair. */
  getStats(): Promise<StatsOf<PC>> {
    return this.#pc.getStats() as Promise<StatsOf<PC>>;
  }

  /** Listens to `track`, `datachannel` or `connectionstatechange`; any other type throws a TypeError. */
  override addEventListener(
    type: string,
    listener: ((event: CustomEvent<never>) => void) | EventListenerOrEventListenerObject | null,
    options?: AddEventListenerOptions | boolean,
  ): void {
    if (!EVENT_TYPES.includes(type)) {
      const known = EVENT_TYPES.map((name) => `"${name}"`).join(', ');
      throw new TypeError(`ManagedConnection dispatches ${known}, not "${type}"`);
    }
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** @internal the pool calls this when the peer leaves or the pool ends */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#release();
    // Closing a connection fires no event of its own: say it here, once, then end the streams.
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#dispatch('connectionstatechange', { connection: this, state: 'closed' });
    }
    this.dispatchEvent(new Event('dispose'));
  }

  #dispatch<K extends ManagedConnectionEventType>(type: K, detail: ManagedConnectionEventDetails<PC>[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

// Typed listeners for the events above; the methods themselves are EventTarget's (checked in addEventListener).
export interface ManagedConnection<PC extends PoolPeerConnection = RTCPeerConnection> {
  /** Listens to `track`, `datachannel` or `connectionstatechange`, with its typed `detail`. */
  addEventListener<K extends ManagedConnectionEventType>(
    type: K,
    listener: (event: CustomEvent<ManagedConnectionEventDetails<PC>[K]>) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** The untyped form, as `EventTarget` declares it; any other type throws a TypeError all the same. */
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Removes a listener added for `track`, `datachannel` or `connectionstatechange`. */
  removeEventListener<K extends ManagedConnectionEventType>(
    type: K,
    listener: (event: CustomEvent<ManagedConnectionEventDetails<PC>[K]>) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  /** The untyped form, as `EventTarget` declares it. */
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}
