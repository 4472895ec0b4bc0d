/**
 * The client's signalling channel: {@link Transceiver}, the base of every
 * transport (WebSocket and socket.io built in), and {@link Signalling}, which
 * parses what a transceiver receives into typed protocol messages.
 */

export { SignallingClosedError } from './errors.js';
export {
  Signalling,
  type SignallingCloseReason,
  type SignallingEventMap,
  type SignallingOptions,
  type SignallingState,
  signalling,
} from './signalling.js';
export { type SocketIoLike, SocketIoTransceiver } from './socketio.js';
export { type ReceivedFrame, Transceiver, type TransportEvent, transceiver } from './transceiver.js';
export {
  type ReconnectOptions,
  type WebSocketLike,
  WebSocketTransceiver,
  type WebSocketTransceiverOptions,
} from './websocket.js';
