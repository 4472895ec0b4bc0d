/**
 * The plain data the machines carry. They match what
 * `RTCSessionDescription.toJSON()` and `RTCIceCandidate.toJSON()` produce and
 * what the wire protocol (`src/protocol`) carries, but are spelled out here so
 * that the machines depend on nothing but XState: they run in an inspector, a
 * simulation or a test without a WebRTC stack or a DOM.
 */

/** An SDP offer or answer. */
export interface SessionDescription {
  type: 'offer' | 'answer';
  sdp: string;
}

/** A trickled ICE candidate. */
export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

/** `RTCIceConnectionState`, spelled out so that Node builds need no DOM types. */
export type IceConnectionState = 'new' | 'checking' | 'connected' | 'completed' | 'disconnected' | 'failed' | 'closed';

/** `RTCPeerConnectionState`, spelled out for the same reason. */
export type PeerConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

/** What `JSON.parse` can produce: a peer's trusted description. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
