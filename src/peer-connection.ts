import type { IceConnectionState, PeerConnectionState } from '../machines/types.js';
import type { IceCandidate, SessionDescription } from './protocol/messages.js';

/**
 * What rtcpool needs of a peer connection. The browser's `RTCPeerConnection`,
 * `@roamhq/wrtc` and `werift` all satisfy it, as does the simulated
 * connection the tests use.
 */
export interface PeerConnectionLike {
  readonly signalingState: string;
  readonly iceConnectionState: string;
  readonly connectionState?: string;
  readonly localDescription: { readonly type: string; readonly sdp: string } | null;
  readonly remoteDescription: { readonly type: string; readonly sdp: string } | null;
  createOffer(options?: { iceRestart?: boolean }): Promise<{ type: string; sdp?: string }>;
  createAnswer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(description: { type: 'offer' | 'answer' | 'rollback'; sdp?: string }): Promise<unknown>;
  setRemoteDescription(description: SessionDescription): Promise<unknown>;
  addIceCandidate(candidate?: IceCandidate): Promise<unknown>;
  restartIce?(): void;
  close(): void;
  addEventListener(type: string, listener: (event: unknown) => void): void;
  removeEventListener(type: string, listener: (event: unknown) => void): void;
}

/** Copies a stack's description object (class instance or init) into plain data. */
export function toSessionDescription(description: { type: string; sdp?: string } | null): SessionDescription {
  if (!description || (description.type !== 'offer' && description.type !== 'answer') || !description.sdp) {
    throw new TypeError(`expected an offer or answer with SDP, got ${description?.type ?? 'nothing'}`);
  }
  return { type: description.type, sdp: description.sdp };
}

interface CandidateLike {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

/**
 * Copies the candidate of an `icecandidate` event into plain data; `null`
 * marks the end of candidates (browsers and wrtc give `null`, werift
 * `undefined`).
 */
export function toIceCandidate(event: unknown): IceCandidate | null {
  const candidate = (event as { candidate?: CandidateLike | null } | null | undefined)?.candidate;
  if (!candidate || typeof candidate.candidate !== 'string') return null;
  const plain: IceCandidate = { candidate: candidate.candidate };
  if (candidate.sdpMid != null) plain.sdpMid = candidate.sdpMid;
  if (candidate.sdpMLineIndex != null) plain.sdpMLineIndex = candidate.sdpMLineIndex;
  if (candidate.usernameFragment != null) plain.usernameFragment = candidate.usernameFragment;
  return plain;
}

export function isIceConnectionState(value: unknown): value is IceConnectionState {
  return (
    typeof value === 'string' &&
    ['new', 'checking', 'connected', 'completed', 'disconnected', 'failed', 'closed'].includes(value)
  );
}

export function isPeerConnectionState(value: unknown): value is PeerConnectionState {
  return (
    typeof value === 'string' && ['new', 'connecting', 'connected', 'disconnected', 'failed', 'closed'].includes(value)
  );
}
