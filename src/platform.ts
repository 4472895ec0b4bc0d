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
  readonly label: string;
  readonly readyState: string;
  addEventListener(type: string, listener: (event: unknown) => void): void;
  removeEventListener(type: string, listener: (event: unknown) => void): void;
}

/** The parts of an `RTCRtpSender` a managed stream relies on. */
export interface SenderLike {
  readonly track: { readonly kind: string } | null;
  replaceTrack(track: never): Promise<void>;
}

/**
 * What a pool needs of a peer connection beyond negotiation. The browser's
 * `RTCPeerConnection`, `@roamhq/wrtc`'s and werift's fit.
 */
export interface PoolPeerConnection extends PeerConnectionLike {
  createDataChannel(label: string, options?: never): DataChannelLike;
  addTrack(track: never, ...streams: never[]): SenderLike;
  removeTrack(sender: never): void;
  getStats(): Promise<unknown>;
}

/** The data channel type of implementation `PC` (`RTCDataChannel` in a browser). */
export type DataChannelOf<PC> = PC extends { createDataChannel(label: string, ...rest: never[]): infer C } ? C : never;

/** What `PC` accepts as a data channel's options (`RTCDataChannelInit` in a browser). */
export type DataChannelInitOf<PC> = PC extends { createDataChannel(label: string, options?: infer I): unknown }
  ? I
  : never;

/** The media track type of `PC` (`MediaStreamTrack` in a browser). */
export type TrackOf<PC> = PC extends { addTrack(track: infer T, ...streams: never[]): unknown } ? T : never;

/** The media stream type of `PC` (`MediaStream` in a browser). */
export type StreamOf<PC> = PC extends { addTrack(track: never, ...streams: Array<infer S>): unknown } ? S : never;

/** The sender type of `PC` (`RTCRtpSender` in a browser). */
export type SenderOf<PC> = PC extends { addTrack(track: never, ...streams: never[]): infer R } ? R : never;

/** What `getStats()` of `PC` resolves with (`RTCStatsReport` in a browser). */
export type StatsOf<PC> = PC extends { getStats(...args: never[]): Promise<infer R> } ? R : never;

/** A constructor of peer connections taking configuration `Config`, as `options.RTCPeerConnection`. */
export type PeerConnectionConstructor<PC, Config> = new (configuration?: Config) => PC;
