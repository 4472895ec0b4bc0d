/**
 * The signalling wire protocol ("ssp"), shared by the client pool and the
 * signalling server: message types, constructors, and the one parser that
 * turns `unknown` into a typed message or a {@link SignallingError}. No DOM,
 * no Node APIs, no dependencies.
 */
export { SignallingError, type SignallingErrorCode } from './errors.js';
export { isIceServerUrl, isTurnUrl } from './ice-servers.js';
export {
  CLIENT_EVENTS,
  type ClientEventType,
  type ClientMessage,
  type ClientMessageOf,
  candidateMessage,
  encodeFrame,
  type IceCandidate,
  type IceServer,
  JOIN_REFUSALS,
  type JoinedData,
  type JoinRefusal,
  type JsonValue,
  joinMessage,
  LEGACY_SERVER_EVENTS,
  PROTOCOL_LIMITS,
  type ProtocolMessage,
  pingMessage,
  RESUME_REFUSED,
  type ResumedData,
  type ResumeGrant,
  resumeMessage,
  SERVER_EVENTS,
  type ServerEventType,
  type ServerMessage,
  type ServerMessageOf,
  type SessionDescription,
  sdpMessage,
} from './messages.js';
export {
  type DecodedFrame,
  decodeFrame,
  type ParseOptions,
  type ParseResult,
  parseClientEvent,
  parseClientFrame,
  parseServerEvent,
  parseServerFrame,
} from './parse.js';
