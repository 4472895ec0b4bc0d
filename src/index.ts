/**
 * The rtcpool client: {@link Pool} and its {@link ManagedConnection}s, the signalling channel ({@link Signalling}
 * over a {@link Transceiver}), shared media ({@link ManagedStream}), the XState machines underneath and the wire
 * protocol. It runs in browsers and in Node (on `@roamhq/wrtc` or werift); the server is `rtcpool/server`.
 *
 * @module rtcpool
 */
export { NegotiationError, type NegotiationErrorCode } from '../machines/errors.js';
export {
  type EffectInput,
  type EffectsLookup,
  type ErrorReport,
  type NegotiationContext,
  type NegotiationEmitted,
  type NegotiationEvent,
  type NegotiationInput,
  type NegotiationMachine,
  type NegotiationSettings,
  negotiationMachine,
  type SignalEvent,
} from '../machines/negotiation.js';
export {
  type ChildNegotiationInput,
  DEFAULT_FIRST_OFFER_TIMEOUT_MS,
  type PoolContext,
  type PoolEmitted,
  type PoolEvent,
  type PoolInput,
  type PoolProblem,
  type PoolSignalEvent,
  poolMachine,
} from '../machines/pool.js';
export {
  ManagedConnection,
  type ManagedConnectionEventDetails,
  type ManagedConnectionEventType,
  type NegotiationState,
} from './managed-connection.js';
export { ManagedStream, type MediaKind, media, type StreamLike, type TrackLike } from './media.js';
export {
  createNegotiationActor,
  type NegotiationActor,
  type NegotiationActorOptions,
  type OutgoingSignal,
} from './negotiation.js';
export type { PeerConnectionLike } from './peer-connection.js';
export type {
  DataChannelInitOf,
  DataChannelLike,
  DataChannelOf,
  PeerConnectionConstructor,
  PoolPeerConnection,
  SenderLike,
  SenderOf,
  StatsOf,
  StreamOf,
  TrackOf,
} from './platform.js';
export { Pool, type PoolOptions, type SignallingChannel } from './pool.js';
export {
  CONTROL_CHANNEL,
  createPoolActor,
  type NegotiatedPeerConnection,
  type PoolActor,
  type PoolActorOptions,
  type PoolOutgoingMessage,
} from './pool-actor.js';
export {
  PoolError,
  type PoolErrorCode,
  type PoolEventData,
  type PoolEventDetails,
  type PoolEventError,
  PoolEvents,
  type PoolEventType,
} from './pool-events.js';
// The server-side half of the protocol (parseClientFrame, parseClientEvent,
// CLIENT_EVENTS) lives in src/protocol for the signalling server; the
// client's entry leaves it out, which keeps it out of the browser bundle.
export {
  CLIENT_EVENTS,
  type ClientEventType,
  type ClientMessage,
  type ClientMessageOf,
  candidateMessage,
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  type IceServer,
  JOIN_REFUSALS,
  type JoinedData,
  type JoinRefusal,
  type JsonValue,
  joinMessage,
  LEGACY_SERVER_EVENTS,
  type ParseOptions,
  type ParseResult,
  PROTOCOL_LIMITS,
  type ProtocolMessage,
  parseServerEvent,
  parseServerFrame,
  pingMessage,
  RESUME_REFUSED,
  type ResumedData,
  type ResumeGrant,
  resumeMessage,
  SERVER_EVENTS,
  type ServerEventType,
  type ServerMessage,
  type ServerMessageOf,
  SignallingError,
  type SignallingErrorCode,
  sdpMessage,
} from './protocol/index.js';
export { type MediaSectionSummary, mediaSummary } from './sdp.js';
export { RtcpoolError } from './shared/errors.js';
export { consoleLogger, type LogArea, type Logger, type LogLevel, silentLogger } from './shared/logger.js';
export {
  type ReceivedFrame,
  type ReconnectOptions,
  Signalling,
  SignallingClosedError,
  type SignallingCloseReason,
  type SignallingEventMap,
  type SignallingOptions,
  type SignallingState,
  type SocketIoLike,
  SocketIoTransceiver,
  signalling,
  Transceiver,
  type TransportEvent,
  transceiver,
  type WebSocketLike,
  WebSocketTransceiver,
  type WebSocketTransceiverOptions,
} from './signalling/index.js';
export type { IceCandidate, IceConnectionState, PeerConnectionState, SessionDescription } from './types.js';
