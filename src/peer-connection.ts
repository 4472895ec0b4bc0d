import type { IceCandidate, IceConnectionState, PeerConnectionState, SessionDescription } from './types.js';

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

/** The first `a=ice-ufrag` of an SDP blob; a new one means ICE restarted. */
export function iceUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}

/** The ICE generation a candidate belongs to: its `usernameFragment`, else the `ufrag` in its attribute. */
function candidateUfrag(candidate: IceCandidate): string | undefined {
  return candidate.usernameFragment ?? /\bufrag (\S+)/.exec(candidate.candidate)?.[1];
}

/**
 * Whether a candidate can belong to `sdp`: same ICE generation and an
 * m-section it names. One that cannot was gathered for a description that
 * was ignored, rolled back or replaced by an ICE restart.
 */
export function candidateFitsDescription(candidate: IceCandidate, sdp: string): boolean {
  const ufrag = candidateUfrag(candidate);
  if (ufrag !== undefined && ufrag !== iceUfrag(sdp)) return false;
  if (candidate.sdpMid != null) {
    const mid = `a=mid:${candidate.sdpMid}`;
    return sdp.split('\n').some((line) => line.trim() === mid);
  }
  if (candidate.sdpMLineIndex != null) return candidate.sdpMLineIndex < (sdp.match(/^m=/gm)?.length ?? 0);
  return true;
}

/**
 * Whether two descriptions negotiate the same media: the same m-sections
 * (kind, mid, direction, sending tracks) and ICE credentials. Session
 * versions, ports and candidates are ignored.
 */
export function sameMedia(a: string, b: string): boolean {
  const media = (sdp: string) =>
    sdp
      .split(/\r?\n/)
      .filter((line) =>
        /^(m=\S+|a=mid:|a=(sendrecv|sendonly|recvonly|inactive)$|a=msid:|a=ice-ufrag:|a=sctp-port:)/.test(line),
      )
      .map((line) => (line.startsWith('m=') ? line.split(' ')[0] : line))
      .join('\n');
  return media(a) === media(b);
}
