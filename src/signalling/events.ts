/**
 * What a {@link Signalling} says of itself: the events it dispatches under the
 * original rtcpool's names, its state, why it ended, and its options.
 */
import type { SignallingError } from '../protocol/errors.js';
import type { ServerMessage } from '../protocol/messages.js';
import type { Logger } from '../shared/logger.js';

type Data<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>['data'];

/**
 * The events a {@link Signalling} dispatches on itself, by the names the
 * original rtcpool used, each a `CustomEvent` whose `detail` is the parsed
 * message's data (version 2 fields, whichever version the server spoke).
 */
export interface SignallingEventMap {
  /** `rtc:joined`: this endpoint is in the pool. */
  join: CustomEvent<Data<'rtc:joined'>>;
  /** `rtc:peer` (v1 `rtc:request_offers`): a peer joined after us. */
  peer: CustomEvent<Data<'rtc:peer'>>;
  /** The same as `peer`, under its version 1 name. */
  request: CustomEvent<Data<'rtc:peer'>>;
  /** `rtc:sdp` (v1 `rtc:offer`, `rtc:answer`): a description from a peer. */
  sdp: CustomEvent<Data<'rtc:sdp'>>;
  /** The same as `sdp`, when the description is an offer. */
  offer: CustomEvent<Data<'rtc:sdp'>>;
  /** The same as `sdp`, when the description is an answer. */
  answer: CustomEvent<Data<'rtc:sdp'>>;
  /** `rtc:candidate`: a trickled candidate (null: the peer's last). */
  candidate: CustomEvent<Data<'rtc:candidate'>>;
  /** `rtc:close`: a peer left. */
  close: CustomEvent<Data<'rtc:close'>>;
  /** `rtc:stop`: the server force-closed the pool. */
  stop: CustomEvent<Data<'rtc:stop'>>;
  /** `rtc:describe`: the back-end set a peer's description. */
  describe: CustomEvent<Data<'rtc:describe'>>;
  /** `rtc:error`: the server refused something this endpoint sent. */
  servererror: CustomEvent<Data<'rtc:error'>>;
  /** `rtc:resumed`: the session continues on a new connection after a lost one. */
  resumed: CustomEvent<Data<'rtc:resumed'>>;
  /** `rtc:pong`: the server answered the heartbeat's `rtc:ping`. */
  pong: CustomEvent<Data<'rtc:pong'>>;
  /** A frame or event from the server was refused here (malformed, unknown, invalid); the channel carries on. */
  error: CustomEvent<SignallingError>;
  /** The connection was lost; the session is kept and sends are queued until it resumes. */
  offline: Event;
  /** The session resumed on a new connection: what was queued has been sent. */
  online: Event;
}

/** `online`, or `offline` between a lost connection and the resumed session (sends are queued meanwhile). */
export type SignallingState = 'online' | 'offline';

/**
 * Why a {@link Signalling} ended by itself (`closeReason`): the connection
 * closed and could not be resumed (`connection-lost`), the server refused the
 * resume (`resume-refused`), the resume window passed without a new
 * connection (`resume-expired`), or the server needs frames the bounded
 * outbox no longer holds (`outbox-overflow`).
 */
export interface SignallingCloseReason {
  /** Which of the four, to branch on. */
  code: 'connection-lost' | 'resume-refused' | 'resume-expired' | 'outbox-overflow';
  /** The details, for people (the server's own message for `resume-refused`). */
  message: string;
}

/** The original rtcpool's event names for each server message. */
export const EVENT_NAMES: Record<ServerMessage['type'], string[]> = {
  'rtc:joined': ['join'],
  'rtc:peer': ['peer', 'request'],
  'rtc:sdp': ['sdp'],
  'rtc:candidate': ['candidate'],
  'rtc:close': ['close'],
  'rtc:stop': ['stop'],
  'rtc:describe': ['describe'],
  'rtc:error': ['servererror'],
  'rtc:resumed': ['resumed'],
  'rtc:pong': ['pong'],
};

/** What a {@link Signalling} logs, and how much it keeps to resume a session. */
export interface SignallingOptions {
  /** Area `signal`: a warning per refused frame, one info line on close, each message at debug. */
  logger?: Logger;
  /**
   * Frames sent since `rtc:joined` kept to send again after a lost connection
   * (default 1000). Past it the oldest are forgotten; a resume that needs one
   * of them ends the channel (`outbox-overflow`).
   */
  maxOutbox?: number;
  /**
   * The client's heartbeat, so that a connection that went silent without
   * closing (a half-open TCP connection: a NAT that forgot it, a network
   * switched under it) is resumed in seconds rather than when TCP gives up.
   * After `intervalMs` without a frame from the server (default 5000) the
   * channel sends `rtc:ping`; after `timeoutMs` more without one (default
   * 5000) it takes the connection for lost, and the transceiver makes a new
   * one on which the session resumes. It runs only with a server that
   * answers pings (`answers_ping` in `rtc:joined`) over a transceiver that
   * reconnects by itself (`Transceiver.reconnects`: a
   * `WebSocketTransceiver` made from a factory or a URL; socket.io
   * keeps its own heartbeat). `false`: no heartbeat.
   */
  heartbeat?:
    | {
        /** Quiet time after which the channel sends `rtc:ping`, ms (default 5000). */
        intervalMs?: number;
        /** Time after an unanswered `rtc:ping` at which the connection is lost, ms (default 5000). */
        timeoutMs?: number;
      }
    | false;
}
