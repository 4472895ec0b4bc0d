import type { IceConnectionState, PeerConnectionState } from '../machines/types.js';
import type { IceCandidate, SessionDescription } from './protocol/messages.js';

/**
 * What rtcpool needs of a peer connection. The browser's `RTCPeerConnection`,
 * `@roamhq/wrtc` and `werift` all satisfy it, as does the simulated
 * connection the tests use.
 */
export interface PeerConnectionLike {
  /** Read before a rollback, which is skipped in `stable`. */
  readonly signalingState: string;
  /** Read on each `iceconnectionstatechange`: `failed` restarts ICE. */
  readonly iceConnectionState: string;
  /** Read on each `connectionstatechange`, where the stack has it: `failed` restarts ICE too. */
  readonly connectionState?: string;
  /** The description set last: a new offer that would change nothing compared with it is not sent. */
  readonly localDescription: {
    /** `offer` or `answer`. */
    readonly type: string;
    /** The SDP text. */
    readonly sdp: string;
  } | null;
  /** The peer's description applied last: its ICE ufrag tells a restart, and which candidates still fit. */
  readonly remoteDescription: {
    /** `offer` or `answer`. */
    readonly type: string;
    /** The SDP text. */
    readonly sdp: string;
  } | null;
  /**
   * The peer's description of the last completed negotiation (while a new
   * remote offer is pending, the one before it). Read, where the stack has
   * it, to keep the DTLS role of an existing association in our answers.
   */
  readonly currentRemoteDescription?: {
    /** `offer` or `answer`. */
    readonly type: string;
    /** The SDP text. */
    readonly sdp: string;
  } | null;
  /** Makes an offer; with `iceRestart`, one with new ICE credentials. */
  createOffer(options?: { iceRestart?: boolean }): Promise<{
    /** `offer`. */
    type: string;
    /** The SDP text; without it, the step fails. */
    sdp?: string;
  }>;
  /** Makes the answer to the remote offer just applied. */
  createAnswer(): Promise<{
    /** `answer`. */
    type: string;
    /** The SDP text; without it, the step fails. */
    sdp?: string;
  }>;
  /** Always given a description or a `rollback`: wrtc has neither the parameterless form nor implicit rollback. */
  setLocalDescription(description: { type: 'offer' | 'answer' | 'rollback'; sdp?: string }): Promise<unknown>;
  /**
   * Applies the peer's offer or answer. Also called with `{ type: 'rollback' }`
   * on a connection whose `setLocalDescription` refused to roll back a remote
   * offer (Firefox does), so only on such stacks.
   */
  setRemoteDescription(description: SessionDescription): Promise<unknown>;
  /** Adds one of the peer's candidates; called without one at the end of them. */
  addIceCandidate(candidate?: IceCandidate): Promise<unknown>;
  /** Called where the stack has it, on `app.restartIce` or a failure; the next offer restarts ICE either way. */
  restartIce?(): void;
  /** Called when the negotiation stops (`app.close`, `actor.stop()`, the peer left, the pool ended). */
  close(): void;
  /** Listens to `negotiationneeded`, `icecandidate`, `iceconnectionstatechange` and `connectionstatechange`. */
  addEventListener(type: string, listener: (event: unknown) => void): void;
  /** Removes those listeners when the negotiation stops. */
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
