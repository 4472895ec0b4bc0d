/**
 * Plain-data shapes that cross the signalling channel. They are what
 * `RTCSessionDescription.toJSON()` and `RTCIceCandidate.toJSON()` produce, so
 * they serialize as-is and carry no live objects.
 */

/** An SDP offer or answer as sent over signalling. */
export interface SessionDescription {
  type: 'offer' | 'answer';
  sdp: string;
}

/** A trickled ICE candidate as sent over signalling. */
export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

/** `RTCIceConnectionState` spelled out so that Node builds need no DOM types. */
export type IceConnectionState = 'new' | 'checking' | 'connected' | 'completed' | 'disconnected' | 'failed' | 'closed';

/** `RTCPeerConnectionState` spelled out for the same reason. */
export type PeerConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';
