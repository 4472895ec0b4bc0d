export {
  type NegotiationContext,
  type NegotiationEmitted,
  type NegotiationEvent,
  type NegotiationInput,
  type NegotiationMachine,
  negotiationMachine,
  type SignalEvent,
} from '../machines/negotiation.js';
export {
  type JsonValue,
  type PoolContext,
  type PoolEmitted,
  type PoolEvent,
  type PoolProblem,
  type PoolSignalEvent,
  poolMachine,
} from '../machines/pool.js';
export { NegotiationError, type NegotiationErrorCode } from './errors.js';
export { consoleLogger, type LogArea, type Logger, type LogLevel, silentLogger } from './logger.js';
export {
  createNegotiationActor,
  type NegotiationActor,
  type NegotiationActorOptions,
  type OutgoingSignal,
} from './negotiation.js';
export type { PeerConnectionLike } from './peer-connection.js';
export {
  CONTROL_CHANNEL,
  createPoolActor,
  type PoolActor,
  type PoolActorOptions,
  type PoolOutgoingMessage,
  type PoolPeerConnection,
} from './pool-actor.js';
export type { IceCandidate, IceConnectionState, PeerConnectionState, SessionDescription } from './types.js';
