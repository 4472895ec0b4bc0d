/**
 * Server events as a server sends them, in both protocol dialects, each with
 * the message `Signalling.messages` yields for it and the events it dispatches.
 * Shared by the WebSocket and socket.io tests.
 */
import type { ServerMessage } from '../../src/protocol/index.js';

export interface Sample {
  /** The event as it travels. */
  type: string;
  data: Record<string, unknown>;
  /** What it parses to (always protocol version 2). */
  message: ServerMessage;
  /** The events the Signalling dispatches for it, in order. */
  events: string[];
}

const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' } as const;
const answer = { type: 'answer', sdp: 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n' } as const;
const candidate = { candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host', sdpMid: '0', sdpMLineIndex: 0 };

export const version2: Sample[] = [
  {
    type: 'rtc:joined',
    data: { client_id: 'me', peers: ['ada', 'bob'], descriptions: { ada: { name: 'Ada' } }, pool: 'lobby' },
    message: {
      type: 'rtc:joined',
      data: {
        client_id: 'me',
        peers: ['ada', 'bob'],
        descriptions: { ada: { name: 'Ada' }, bob: null },
        pool: 'lobby',
      },
    },
    events: ['join'],
  },
  {
    type: 'rtc:peer',
    data: { id: 'cy' },
    message: { type: 'rtc:peer', data: { id: 'cy' } },
    events: ['peer', 'request'],
  },
  {
    type: 'rtc:sdp',
    data: { peer: 'ada', description: offer },
    message: { type: 'rtc:sdp', data: { peer: 'ada', description: offer } },
    events: ['sdp', 'offer'],
  },
  {
    type: 'rtc:sdp',
    data: { peer: 'bob', description: answer },
    message: { type: 'rtc:sdp', data: { peer: 'bob', description: answer } },
    events: ['sdp', 'answer'],
  },
  {
    type: 'rtc:candidate',
    data: { from: 'ada', candidate },
    message: { type: 'rtc:candidate', data: { from: 'ada', candidate } },
    events: ['candidate'],
  },
  {
    type: 'rtc:candidate',
    data: { from: 'ada', candidate: null },
    message: { type: 'rtc:candidate', data: { from: 'ada', candidate: null } },
    events: ['candidate'],
  },
  {
    type: 'rtc:describe',
    data: { id: 'bob', description: { name: 'Bob', muted: true } },
    message: { type: 'rtc:describe', data: { id: 'bob', description: { name: 'Bob', muted: true } } },
    events: ['describe'],
  },
  {
    type: 'rtc:close',
    data: { id: 'bob', uid: 'bob' },
    message: { type: 'rtc:close', data: { id: 'bob' } },
    events: ['close'],
  },
  {
    type: 'rtc:error',
    data: { message: 'no such peer', reason: 'unknown-peer' },
    message: { type: 'rtc:error', data: { message: 'no such peer', reason: 'unknown-peer' } },
    events: ['servererror'],
  },
  { type: 'rtc:stop', data: {}, message: { type: 'rtc:stop', data: {} }, events: ['stop'] },
];

/** Version 1 names and fields (PyRTC 1.x): normalized to version 2. */
export const version1: Sample[] = [
  {
    type: 'rtc:joined',
    data: { client_id: 'me', peers: ['ada'] },
    message: { type: 'rtc:joined', data: { client_id: 'me', peers: ['ada'], descriptions: { ada: null }, pool: null } },
    events: ['join'],
  },
  {
    type: 'rtc:request_offers',
    data: { for: 'cy' },
    message: { type: 'rtc:peer', data: { id: 'cy' } },
    events: ['peer', 'request'],
  },
  {
    type: 'rtc:offer',
    data: { for: 'ada', offer },
    message: { type: 'rtc:sdp', data: { peer: 'ada', description: offer } },
    events: ['sdp', 'offer'],
  },
  {
    type: 'rtc:answer',
    data: { for: 'cy', answer },
    message: { type: 'rtc:sdp', data: { peer: 'cy', description: answer } },
    events: ['sdp', 'answer'],
  },
  {
    type: 'rtc:describe',
    data: { uid: 'ada', description: 'away' },
    message: { type: 'rtc:describe', data: { id: 'ada', description: 'away' } },
    events: ['describe'],
  },
  { type: 'rtc:close', data: { uid: 'ada' }, message: { type: 'rtc:close', data: { id: 'ada' } }, events: ['close'] },
  { type: 'rtc:stop', data: {}, message: { type: 'rtc:stop', data: {} }, events: ['stop'] },
];

/** Every event name a Signalling may dispatch. */
export const SIGNALLING_EVENTS = [
  'join',
  'peer',
  'request',
  'sdp',
  'offer',
  'answer',
  'candidate',
  'close',
  'stop',
  'describe',
  'servererror',
  'resumed',
  'error',
  'offline',
  'online',
] as const;
