/** Events a server sends, by their version 2 names: what {@link parseServerFrame} yields. */
export const SERVER_EVENTS = [
  'rtc:joined',
  'rtc:peer',
  'rtc:sdp',
  'rtc:candidate',
  'rtc:close',
  'rtc:stop',
  'rtc:describe',
  'rtc:error',
  'rtc:resumed',
  'rtc:pong',
] as const;

/**
 * Version 1 event names that are still accepted from a server and renamed:
 * `rtc:request_offers` becomes `rtc:peer`, `rtc:offer` and `rtc:answer` become `rtc:sdp`.
 */
export const LEGACY_SERVER_EVENTS = ['rtc:request_offers', 'rtc:offer', 'rtc:answer'] as const;

/**
 * `rtc:error` reasons with which a server refuses an `rtc:join`: the endpoint
 * is not in any pool and may try again (another name, later).
 */
export const JOIN_REFUSALS = ['pool-not-found', 'pool-refused', 'pool-full'] as const;

/** One of {@link JOIN_REFUSALS}: why a server refused a join. */
export type JoinRefusal = (typeof JOIN_REFUSALS)[number];

/** Events a client sends (version 2 only). */
export const CLIENT_EVENTS = ['rtc:join', 'rtc:sdp', 'rtc:candidate', 'rtc:resume', 'rtc:ping'] as const;

/**
 * The `rtc:error` reason with which a server refuses an `rtc:resume`: the
 * session is unknown, expired, its token wrong, or what the client missed is
 * no longer held. One reason for all of them, so ids cannot be probed. The
 * endpoint has left its pool; it may join again.
 */
export const RESUME_REFUSED = 'resume-refused';

/** The version 2 name of a server event: one of {@link SERVER_EVENTS}. */
export type ServerEventType = (typeof SERVER_EVENTS)[number];
/** The name of a client event: one of {@link CLIENT_EVENTS}. */
export type ClientEventType = (typeof CLIENT_EVENTS)[number];

/**
 * Bounds every parser enforces. Lengths are in UTF-16 code units, as
 * `string.length` counts them; `maxFrameBytes` is in UTF-8 bytes.
 */
export const PROTOCOL_LIMITS = {
  /** Default largest raw frame (a string or bytes) that is parsed at all. */
  maxFrameBytes: 64 * 1024,
  /** An endpoint id (`client_id`, `peer`, `to`, ...). */
  maxIdLength: 128,
  /** A pool name. */
  maxPoolLength: 256,
  /** A description's SDP text: room for many media sections, far below what a frame may carry anyway. */
  maxSdpLength: 256 * 1024,
  /** One candidate's `candidate` line. */
  maxCandidateLength: 4 * 1024,
  /** `sdpMid` and `usernameFragment` (RFC 8839 caps an ufrag at 256 characters). */
  maxIceFieldLength: 256,
  /** `rtc:error` message and reason. */
  maxErrorLength: 4 * 1024,
  /** Nesting of a peer's JSON description. */
  maxDescriptionDepth: 32,
  /** Values (every array, object, string, ...) in all the JSON descriptions of one frame. */
  maxDescriptionValues: 10_000,
  /** Entries of `ice_servers` (`rtc:joined`, `rtc:resumed`). */
  maxIceServers: 8,
  /** URLs of one ICE server entry. */
  maxIceServerUrls: 8,
  /** One ICE server URL. */
  maxIceServerUrlLength: 256,
  /** An ICE server's `username` or `credential`. */
  maxIceCredentialLength: 256,
} as const;

/** What `JSON.parse` can produce. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * An SDP offer or answer as it travels: what `RTCSessionDescription.toJSON()`
 * produces for an offer or an answer.
 */
export interface SessionDescription {
  /** Which half of the exchange; rollbacks never travel. */
  type: 'offer' | 'answer';
  /** The SDP text. */
  sdp: string;
}

/** A trickled ICE candidate as it travels: what `RTCIceCandidate.toJSON()` produces. */
export interface IceCandidate {
  /** The `candidate:...` attribute line. */
  candidate: string;
  /** The media section it belongs to, by mid. */
  sdpMid?: string | null;
  /** The media section it belongs to, by index (when there is no mid). */
  sdpMLineIndex?: number | null;
  /** The ICE ufrag it was gathered for: tells which session (before or after a restart) it belongs to. */
  usernameFragment?: string | null;
}

/** `rtc:joined`: this endpoint is in the pool. */
export interface JoinedData {
  /** This endpoint's id. */
  client_id: string;
  /** Ids of the peers already in the pool: the joiner is polite toward each of them. Distinct, never `client_id`. */
  peers: string[];
  /**
   * Peer id -> the JSON description the back-end set, or null. Has an entry for
   * every peer (null when the server sent none: version 1 servers may omit the
   * whole map) and may have others, such as `client_id`'s own. It has no
   * prototype, so a peer named `toString` or `__proto__` reads back safely.
   */
  descriptions: Record<string, JsonValue>;
  /** The pool actually joined (the server may map the requested name); null when a version 1 server did not say. */
  pool: string | null;
  /**
   * Present when the server keeps this session through a lost connection:
   * the secret that resumes it (`rtc:resume`), and for how long after the
   * connection is lost. Absent from version 1 servers and with resumption off.
   */
  resume?: ResumeGrant;
  /**
   * The ICE servers the server hands this endpoint (STUN, and TURN with
   * credentials minted for it), to use beside the application's own. Absent
   * when the server has none to give (and from version 1 servers).
   */
  ice_servers?: IceServer[];
  /** True when the server answers `rtc:ping` with `rtc:pong`; absent from those that do not (PyRTC): no pings then. */
  answers_ping?: boolean;
}

/**
 * One ICE server as `rtc:joined` and `rtc:resumed` carry it: what an
 * `RTCIceServer` takes. The parser accepts only `stun:`, `stuns:`, `turn:`
 * and `turns:` URLs, and a `turn:` or `turns:` URL only with a username and
 * a credential (a browser's `RTCPeerConnection` throws without them).
 */
export interface IceServer {
  /** One URL or several, e.g. `turn:turn.example.org:3478?transport=udp`. */
  urls: string | string[];
  /** The TURN username; with TURN REST credentials `<unix expiry>:<endpoint id>`. */
  username?: string;
  /** The TURN password; with TURN REST credentials the base64 HMAC-SHA1 of the username. */
  credential?: string;
}

/** What a server grants in `rtc:joined` for resuming the session. */
export interface ResumeGrant {
  /** Secret: whoever holds it can take over the endpoint's id. */
  token: string;
  /** Milliseconds the server keeps the session after losing the connection. */
  window_ms: number;
}

/** `rtc:resumed`: the session is back on this connection. */
export interface ResumedData {
  /** The resumed endpoint's id (unchanged). */
  client_id: string;
  /**
   * How many frames the server has received from this session since
   * `rtc:joined` (the `rtc:resume` itself excepted): the client sends again
   * whatever it sent after those. The server sends again, right after this
   * event, whatever it sent after the client's `received`.
   */
  received: number;
  /**
   * The ICE servers to use from now on (TURN credentials minted afresh for
   * the resumed session), as in `rtc:joined`. Absent when the server has none.
   */
  ice_servers?: IceServer[];
}

/** A message from the signalling server, normalized to version 2 names and fields. */
export type ServerMessage =
  | {
      /** This endpoint is in the pool. */
      type: 'rtc:joined';
      /** Its id, the peers already there, their descriptions. */
      data: JoinedData;
    }
  | {
      /** A peer joined after us; we are impolite toward it. */
      type: 'rtc:peer';
      /** The new peer. */
      data: {
        /** Its id. */
        id: string;
      };
    }
  | {
      /** A description from peer `peer`. */
      type: 'rtc:sdp';
      /** Who sent what. */
      data: {
        /** The sending peer's id. */
        peer: string;
        /** Its offer or answer. */
        description: SessionDescription;
      };
    }
  | {
      /** A trickled candidate from peer `from`. */
      type: 'rtc:candidate';
      /** Who sent what. */
      data: {
        /** The sending peer's id. */
        from: string;
        /** The candidate; null marks the end of its candidates. */
        candidate: IceCandidate | null;
      };
    }
  | {
      /** Peer `id` left the pool. */
      type: 'rtc:close';
      /** Who left. */
      data: {
        /** The peer's id. */
        id: string;
      };
    }
  | {
      /** The server force-closed the pool. */
      type: 'rtc:stop';
      /** Nothing. */
      data: Record<string, never>;
    }
  | {
      /** The back-end set peer `id`'s description. */
      type: 'rtc:describe';
      /** Whose, and what. */
      data: {
        /** The endpoint described: a peer, or this endpoint itself. */
        id: string;
        /** The new description, trusted: only the back-end sets them. */
        description: JsonValue;
      };
    }
  | {
      /** The server rejected something this client sent. */
      type: 'rtc:error';
      /** Why. */
      data: {
        /** For people. */
        message: string;
        /** A stable code to branch on, e.g. `pool-full` (see {@link JOIN_REFUSALS}). */
        reason?: string;
      };
    }
  | {
      /** The session survived a lost connection and continues on this one. */
      type: 'rtc:resumed';
      /** Where the server's count of this session's frames stands. */
      data: ResumedData;
    }
  | {
      /** The answer to an `rtc:ping`: the connection carries frames both ways. */
      type: 'rtc:pong';
      /** Nothing. */
      data: Record<string, never>;
    };

/** A message from a client to the signalling server (version 2). */
export type ClientMessage =
  | {
      /** Asks to join (or create, on a public server) a pool. */
      type: 'rtc:join';
      /** Which pool. */
      data: {
        /** The requested pool name; the server may map it to another. */
        pool: string;
      };
    }
  | {
      /** Relays an offer or answer to one peer of the pool. */
      type: 'rtc:sdp';
      /** To whom, and what. */
      data: {
        /** The target peer's id. */
        to: string;
        /** The offer or answer. */
        description: SessionDescription;
      };
    }
  | {
      /** Relays a trickled candidate to one peer of the pool. */
      type: 'rtc:candidate';
      /** To whom, and what. */
      data: {
        /** The target peer's id. */
        for: string;
        /** The candidate; null: this side has no more. */
        candidate: IceCandidate | null;
      };
    }
  | {
      /** Takes a session back after a lost connection. */
      type: 'rtc:resume';
      /** Which session, the proof, and where the client's count stands. */
      data: {
        /** The session's endpoint id. */
        id: string;
        /** The `token` from `rtc:joined`. */
        token: string;
        /** Frames this client has received from the server since `rtc:joined` (`rtc:resumed` excepted). */
        received: number;
      };
    }
  | {
      /** Asks for an `rtc:pong` (servers that grant `answers_ping`): the connection has been silent for a while. */
      type: 'rtc:ping';
      /** Where this side's count stands, or nothing. */
      data: {
        /** In a session, frames received since `rtc:joined`, counted as for `rtc:resume`. */
        received?: number;
      };
    };

/** Either side's message, as it travels: `{ type, data }`. */
export type ProtocolMessage = ServerMessage | ClientMessage;

/** One server message by its type, e.g. `ServerMessageOf<'rtc:sdp'>`. */
export type ServerMessageOf<T extends ServerEventType> = Extract<
  ServerMessage,
  {
    /** The message type to pick. */
    type: T;
  }
>;

/** One client message by its type, e.g. `ClientMessageOf<'rtc:join'>`. */
export type ClientMessageOf<T extends ClientEventType> = Extract<
  ClientMessage,
  {
    /** The message type to pick. */
    type: T;
  }
>;

/**
 * Asks to join (or create, on a public server) a pool.
 * @example
 * socket.send(encodeFrame(joinMessage('room-42')));
 */
export function joinMessage(pool: string): ClientMessageOf<'rtc:join'> {
  return { type: 'rtc:join', data: { pool } };
}

/**
 * Relays an offer or answer to peer `to`.
 * @example
 * socket.send(encodeFrame(sdpMessage(peerId, { type: 'offer', sdp })));
 */
export function sdpMessage(to: string, description: SessionDescription): ClientMessageOf<'rtc:sdp'> {
  return { type: 'rtc:sdp', data: { to, description } };
}

/**
 * Relays a trickled candidate (null: end of candidates) to peer `forId`.
 * @example
 * socket.send(encodeFrame(candidateMessage(peerId, candidate)));
 */
export function candidateMessage(forId: string, candidate: IceCandidate | null): ClientMessageOf<'rtc:candidate'> {
  return { type: 'rtc:candidate', data: { for: forId, candidate } };
}

/**
 * Resumes session `id` on a new connection (see {@link ResumeGrant}).
 * @example
 * socket.send(encodeFrame(resumeMessage(id, grant.token, framesReceived)));
 */
export function resumeMessage(id: string, token: string, received: number): ClientMessageOf<'rtc:resume'> {
  return { type: 'rtc:resume', data: { id, token, received } };
}

/**
 * Asks for an `rtc:pong`: does a quiet connection still carry frames? Only to servers that grant `answers_ping`.
 * In a session, `received` (the client's count, as in `rtc:resume`) tells the server what it may stop holding.
 * @example
 * socket.send(encodeFrame(pingMessage()));
 */
export function pingMessage(received?: number): ClientMessageOf<'rtc:ping'> {
  return { type: 'rtc:ping', data: received === undefined ? {} : { received } };
}

/**
 * The JSON text frame `{"type": ..., "data": {...}}` for a raw WebSocket.
 * (A socket.io transport emits `message.type` with `message.data` instead.)
 * @example
 * socket.send(encodeFrame({ type: 'rtc:peer', data: { id } })); // on the server
 */
export function encodeFrame(message: ProtocolMessage): string {
  return JSON.stringify({ type: message.type, data: message.data });
}
