import { map } from 'rxjs';
import type { PoolSignalEvent } from '../../machines/pool.js';
import type { SignallingChannel } from '../../src/pool.js';
import type { ServerMessage } from '../../src/protocol/index.js';
import type { HubClient, MemoryHub } from './memory-hub.js';

/** The wire message a server would have sent for a hub event. */
export function toServerMessage(event: PoolSignalEvent): ServerMessage {
  switch (event.type) {
    case 'signal.joined':
      return {
        type: 'rtc:joined',
        data: { client_id: event.clientId, peers: event.peers, descriptions: event.descriptions, pool: event.pool },
      };
    case 'signal.peer':
      return { type: 'rtc:peer', data: { id: event.id } };
    case 'signal.sdp':
      return { type: 'rtc:sdp', data: { peer: event.peer, description: event.description } };
    case 'signal.candidate':
      return { type: 'rtc:candidate', data: { from: event.from, candidate: event.candidate } };
    case 'signal.close':
      return { type: 'rtc:close', data: { id: event.id } };
    case 'signal.stop':
      return { type: 'rtc:stop', data: {} };
    case 'signal.describe':
      return { type: 'rtc:describe', data: { id: event.id, description: event.description } };
    case 'signal.error':
      return { type: 'rtc:error', data: { message: event.message, ...(event.reason ? { reason: event.reason } : {}) } };
  }
}

/** A signalling channel to an in-memory hub, as a pool sees a real one. */
export function hubSignalling(hub: MemoryHub): SignallingChannel & { client: HubClient } {
  const client = hub.connect();
  return {
    client,
    messages: client.signals.pipe(map(toServerMessage)),
    send: (message) => client.send(message),
    close: () => client.leave(),
  };
}
