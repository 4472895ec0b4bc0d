/**
 * Plain-data shapes that cross the signalling channel (owned by the wire
 * protocol) and the connection states the machines track. They are what
 * `RTCSessionDescription.toJSON()` and `RTCIceCandidate.toJSON()` produce, so
 * they serialize as-is and carry no live objects.
 */
export type { IceConnectionState, PeerConnectionState } from '../machines/types.js';
export type { IceCandidate, SessionDescription } from './protocol/messages.js';
