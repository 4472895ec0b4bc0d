/**
 * The WebRTC objects a pool hands to the application, named after the
 * peer-connection implementation it runs on. With the browser's
 * `RTCPeerConnection` (the default, and `@roamhq/wrtc`, which reuses the
 * DOM's types) they are the platform's own: `RTCDataChannel`,
 * `MediaStreamTrack`, `MediaStream`, `RTCRtpSender`, `RTCStatsReport`. With
 * werift they are werift's classes of the same names. Each is read off the
 * implementation's own method signatures, so the two can never disagree.
 */
import type { PeerConnectionLike } from './peer-connection.js';

/** The parts of an `RTCDataChannel` the pool relies on. */
export interface DataChannelLike {
  /** The name given to `createDataChannel`: the pool's own control channel is told apart by it. */
  readonly label: string;
  /** `open` once usable: `dataChannel()` resolves then. */
  readonly readyState: string;
  /** Watches `open` and `close` while `dataChannel()` waits. */
  addEventListener(type: string, listener: (event: unknown) => void): void;
  /** Stops watching once the channel opened or closed. */
  removeEventListener(type: string, listener: (event: unknown) => void): void;
}

/** The parts of an `RTCRtpSender` a managed stream relies on. */
export interface SenderLike {
  /** The track being sent, or null. */
  readonly track: {
    /** `audio` or `video`. */
    readonly kind: string;
  } | null;
  /** Sends another track without renegotiating: how `ManagedStream.replaceTrack` reaches every peer. */
  replaceTrack(track: never): Promise<void>;
}

/**
 * What a pool needs of a peer connection beyond negotiation. The browser's
 * `RTCPeerConnection`, `@roamhq/wrtc`'s and werift's fit.
 */
export interface PoolPeerConnection extends PeerConnectionLike {
  /** Opens a data channel; its signature gives {@link DataChannelOf} and {@link DataChannelInitOf}. */
  createDataChannel(label: string, options?: never): DataChannelLike;
  /** Sends a track; its signature gives {@link TrackOf}, {@link StreamOf} and {@link SenderOf}. */
  addTrack(track: never, ...streams: never[]): SenderLike;
  /** Stops sending what `addTrack` started. */
  removeTrack(sender: never): void;
  /** The connection's statistics; its signature gives {@link StatsOf}. */
  getStats(): Promise<unknown>;
}

/** The data channel type of implementation `PC` (`RTCDataChannel` in a browser). */
export type DataChannelOf<PC> = PC extends {
  /** The channel type is what `PC`'s own `createDataChannel` returns. */
  createDataChannel(label: string, ...rest: never[]): infer C;
}
  ? C
  : never;

/** What `PC` accepts as a data channel's options (`RTCDataChannelInit` in a browser). */
export type DataChannelInitOf<PC> = PC extends {
  /** The options type is what `PC`'s own `createDataChannel` takes second. */
  createDataChannel(label: string, options?: infer I): unknown;
}
  ? I
  : never;

/** The media track type of `PC` (`MediaStreamTrack` in a browser). */
export type TrackOf<PC> = PC extends {
  /** The track type is what `PC`'s own `addTrack` takes first. */
  addTrack(track: infer T, ...streams: never[]): unknown;
}
  ? T
  : never;

/** The media stream type of `PC` (`MediaStream` in a browser). */
export type StreamOf<PC> = PC extends {
  /** The stream type is what `PC`'s own `addTrack` takes after the track. */
  addTrack(track: never, ...streams: Array<infer S>): unknown;
}
  ? S
  : never;

/** The sender type of `PC` (`RTCRtpSender` in a browser). */
export type SenderOf<PC> = PC extends {
  /** The sender type is what `PC`'s own `addTrack` returns. */
  addTrack(track: never, ...streams: never[]): infer R;
}
  ? R
  : never;

/** What `getStats()` of `PC` resolves with (`RTCStatsReport` in a browser). */
export type StatsOf<PC> = PC extends {
  /** The report type is what `PC`'s own `getStats` resolves with. */
  getStats(...args: never[]): Promise<infer R>;
}
  ? R
  : never;

/** A constructor of peer connections taking configuration `Config`, as `options.RTCPeerConnection`. */
export type PeerConnectionConstructor<PC, Config> = new (configuration?: Config) => PC;
