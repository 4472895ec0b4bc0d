/**
 * The one mapping from the signalling server's messages to the events the
 * pool machine consumes. It decides what a message means for a pool (which
 * server errors refuse a join, what belongs to the channel's session rather
 * than to the pool) so that the machine knows no protocol strings.
 */
import type { PoolSignalEvent } from '../machines/pool.js';
import { JOIN_REFUSALS, type ServerMessage } from './protocol/messages.js';

const joinRefusals: readonly string[] = JOIN_REFUSALS;

/**
 * The pool machine's event for a server message, or undefined for one that
 * is not the pool's business (`rtc:resumed` and `rtc:pong` belong to the signalling
 * channel's session).
 *
 * @example
 * messages.subscribe((message) => {
 *   const signal = toPoolSignal(message);
 *   if (signal) poolActor.send(signal);
 * });
 */
export function toPoolSignal(message: ServerMessage): PoolSignalEvent | undefined {
  switch (message.type) {
    case 'rtc:joined': {
      const { client_id, peers, descriptions, pool } = message.data;
      return { type: 'signal.joined', clientId: client_id, pool, peers, descriptions };
    }
    case 'rtc:peer':
      return { type: 'signal.peer', id: message.data.id };
    case 'rtc:sdp':
      return { type: 'signal.sdp', peer: message.data.peer, description: message.data.description };
    case 'rtc:candidate':
      return { type: 'signal.candidate', from: message.data.from, candidate: message.data.candidate };
    case 'rtc:close':
      return { type: 'signal.close', id: message.data.id };
    case 'rtc:stop':
      return { type: 'signal.stop' };
    case 'rtc:describe':
      return { type: 'signal.describe', id: message.data.id, description: message.data.description };
    case 'rtc:error': {
      const { message: text, reason } = message.data;
      if (reason !== undefined && joinRefusals.includes(reason)) {
        return { type: 'signal.joinRefused', message: `${reason}: ${text}` };
      }
      return reason === undefined
        ? { type: 'signal.error', message: text }
        : { type: 'signal.error', message: text, reason };
    }
    case 'rtc:resumed':
    case 'rtc:pong':
      return undefined;
  }
}
