import { type Observable, Subject } from 'rxjs';
import type { JsonValue } from '../../machines/types.js';
import type { PoolOutgoingMessage } from '../../src/pool-actor.js';
import type { ServerMessage } from '../../src/protocol/index.js';

interface Member {
  id: string;
  messages: Subject<ServerMessage>;
  /** Deliveries waiting for their scheduled run, oldest first (only with `schedule`). */
  inbox: ServerMessage[];
}

export interface MemoryHubOptions {
  /**
   * Runs each delivery; without it every delivery is its own macrotask
   * (`setImmediate`). A test hands them to a fast-check scheduler: each run
   * delivers the member's oldest waiting event, so one member's deliveries
   * stay in order whatever order the runs come in. `label` names the
   * delivery, e.g. `"hub → endpoint-2: rtc:sdp"`.
   */
  schedule?: (label: string, run: () => void) => void;
}

export interface HubClient {
  /** What the server sends this client, as a signalling channel delivers it: parsed wire messages. */
  messages: Observable<ServerMessage>;
  send: (message: PoolOutgoingMessage) => void;
  /** The socket goes away: the others hear `rtc:close`. */
  leave: () => void;
  readonly id: string | null;
}

/**
 * An in-memory signalling server speaking protocol version 2 to pool actors:
 * joins, relays within a pool only, announces leaves. Every delivery is its
 * own macrotask, in order, as over a WebSocket.
 */
export class MemoryHub {
  readonly pools = new Map<string, Map<string, Member>>();
  readonly descriptions = new Map<string, JsonValue>();
  /** SDP messages relayed so far. */
  sdpMessages = 0;
  private nextId = 0;
  private readonly schedule: MemoryHubOptions['schedule'];

  constructor(options: MemoryHubOptions = {}) {
    this.schedule = options.schedule;
  }

  private deliver(to: Member, message: ServerMessage): void {
    if (!this.schedule) {
      setImmediate(() => to.messages.next(message));
      return;
    }
    to.inbox.push(message);
    this.schedule(`hub → ${to.id}: ${message.type}`, () => {
      const next = to.inbox.shift();
      if (next) to.messages.next(next);
    });
  }

  connect(): HubClient {
    const member: Member = { id: '', messages: new Subject<ServerMessage>(), inbox: [] };
    let pool: Map<string, Member> | undefined;
    return {
      messages: member.messages.asObservable(),
      get id() {
        return member.id || null;
      },
      send: (message) => {
        if (message.type === 'rtc:join') {
          member.id = `endpoint-${++this.nextId}`;
          pool = this.pools.get(message.data.pool) ?? new Map();
          this.pools.set(message.data.pool, pool);
          const descriptions: Record<string, JsonValue> = {};
          for (const id of pool.keys()) descriptions[id] = this.descriptions.get(id) ?? null;
          this.deliver(member, {
            type: 'rtc:joined',
            data: { client_id: member.id, pool: message.data.pool, peers: [...pool.keys()], descriptions },
          });
          for (const other of pool.values()) this.deliver(other, { type: 'rtc:peer', data: { id: member.id } });
          pool.set(member.id, member);
          return;
        }
        if (message.type === 'rtc:resume' || message.type === 'rtc:ping') return; // sessions are not kept here
        const to = message.type === 'rtc:sdp' ? message.data.to : message.data.for;
        const target = pool?.get(to);
        if (!target) return;
        if (message.type === 'rtc:sdp') {
          this.sdpMessages += 1;
          this.deliver(target, { type: 'rtc:sdp', data: { peer: member.id, description: message.data.description } });
        } else {
          this.deliver(target, { type: 'rtc:candidate', data: { from: member.id, candidate: message.data.candidate } });
        }
      },
      leave: () => {
        if (!pool?.delete(member.id)) return;
        for (const other of pool.values()) this.deliver(other, { type: 'rtc:close', data: { id: member.id } });
      },
    };
  }

  describe(pool: string, id: string, description: JsonValue): void {
    this.descriptions.set(id, description);
    for (const member of this.pools.get(pool)?.values() ?? []) {
      this.deliver(member, { type: 'rtc:describe', data: { id, description } });
    }
  }

  stop(pool: string): void {
    for (const member of this.pools.get(pool)?.values() ?? []) this.deliver(member, { type: 'rtc:stop', data: {} });
    this.pools.delete(pool);
  }
}
