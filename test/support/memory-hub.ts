import { type Observable, Subject } from 'rxjs';
import type { JsonValue, PoolSignalEvent } from '../../machines/pool.js';
import type { PoolOutgoingMessage } from '../../src/pool-actor.js';

interface Member {
  id: string;
  signals: Subject<PoolSignalEvent>;
  /** Deliveries waiting for their scheduled run, oldest first (only with `schedule`). */
  inbox: PoolSignalEvent[];
}

export interface MemoryHubOptions {
  /**
   * Runs each delivery; without it every delivery is its own macrotask
   * (`setImmediate`). A test hands them to a fast-check scheduler: each run
   * delivers the member's oldest waiting event, so one member's deliveries
   * stay in order whatever order the runs come in. `label` names the
   * delivery, e.g. `"hub → endpoint-2: signal.sdp"`.
   */
  schedule?: (label: string, run: () => void) => void;
}

export interface HubClient {
  signals: Observable<PoolSignalEvent>;
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

  private deliver(to: Member, event: PoolSignalEvent): void {
    if (!this.schedule) {
      setImmediate(() => to.signals.next(event));
      return;
    }
    to.inbox.push(event);
    this.schedule(`hub → ${to.id}: ${event.type}`, () => {
      const next = to.inbox.shift();
      if (next) to.signals.next(next);
    });
  }

  connect(): HubClient {
    const member: Member = { id: '', signals: new Subject<PoolSignalEvent>(), inbox: [] };
    let pool: Map<string, Member> | undefined;
    return {
      signals: member.signals.asObservable(),
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
            type: 'signal.joined',
            clientId: member.id,
            pool: message.data.pool,
            peers: [...pool.keys()],
            descriptions,
          });
          for (const other of pool.values()) this.deliver(other, { type: 'signal.peer', id: member.id });
          pool.set(member.id, member);
          return;
        }
        if (message.type === 'rtc:resume') return; // sessions are not kept here
        const to = message.type === 'rtc:sdp' ? message.data.to : message.data.for;
        const target = pool?.get(to);
        if (!target) return;
        if (message.type === 'rtc:sdp') {
          this.sdpMessages += 1;
          this.deliver(target, { type: 'signal.sdp', peer: member.id, description: message.data.description });
        } else {
          this.deliver(target, { type: 'signal.candidate', from: member.id, candidate: message.data.candidate });
        }
      },
      leave: () => {
        if (!pool?.delete(member.id)) return;
        for (const other of pool.values()) this.deliver(other, { type: 'signal.close', id: member.id });
      },
    };
  }

  describe(pool: string, id: string, description: JsonValue): void {
    this.descriptions.set(id, description);
    for (const member of this.pools.get(pool)?.values() ?? []) {
      this.deliver(member, { type: 'signal.describe', id, description });
    }
  }

  stop(pool: string): void {
    for (const member of this.pools.get(pool)?.values() ?? []) this.deliver(member, { type: 'signal.stop' });
    this.pools.delete(pool);
  }
}
