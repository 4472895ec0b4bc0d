import type fc from 'fast-check';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { NegotiationError } from '../../machines/errors.js';
import type { PoolEmitted } from '../../machines/pool.js';
import { createPoolActor, type PoolActor } from '../../src/pool-actor.js';
import type { HubClient, MemoryHub } from './memory-hub.js';
import type { Flavour } from './scheduled-pair.js';
import { SimulatedPeerConnection, type SimulatedTransceiver } from './simulated-peer-connection.js';

/** Runs `run` as one task of the scheduler, labelled for its report. */
export type Schedule = (label: string, run: () => void) => void;

export function schedulerSchedule(s: fc.Scheduler): Schedule {
  return (label, run) => {
    s.schedule(Promise.resolve(), label).then(run);
  };
}

import { schedulerClock } from './scheduler-clock.js';

export { schedulerClock };

/** One connection a pool actor made, with what the test added to it. */
export interface EndpointConnection {
  pc: SimulatedPeerConnection;
  transceivers: SimulatedTransceiver[];
  dataChannels: number;
}

/** A pool actor on one hub client, recording everything it did and emitted. */
export interface ScheduledEndpoint {
  /** The hub's id for it, known as soon as it sent its join. */
  readonly id: string;
  actor: PoolActor;
  client: HubClient;
  /** Per remote peer id, the connection the actor asked for. */
  connections: Map<string, EndpointConnection>;
  /** Remote peers it asked a second connection for (should stay empty). */
  duplicateConnections: string[];
  emitted: PoolEmitted[];
  /** Errors its negotiation children emitted. */
  negotiationErrors: NegotiationError[];
  /** How often the actor closed its signalling channel. */
  signallingClosed: number;
  /** Per remote peer id, the descriptions (offers and answers) this endpoint sent it. */
  descriptionsSent: Map<string, number>;
}

export interface ScheduledEndpointOptions {
  hub: MemoryHub;
  pool: string;
  schedule: Schedule;
  clock: { setTimeout(fn: (...args: unknown[]) => void, timeout: number): number; clearTimeout(id: number): void };
  flavour: Flavour;
  /** Passed to the pool actor (default: its own). */
  firstOfferTimeoutMs?: number;
  /**
   * Called as the endpoint learns of each peer (its `pool.joined` peers, then
   * each `pool.peer`), with the connection just made: what an application
   * does on the `peer` event.
   */
  onPeer?: (connection: EndpointConnection) => void;
}

/**
 * Creates a pool actor whose connections are simulated on `schedule`, and
 * joins `pool`. Every emitted event, negotiation error and connection is
 * recorded on the returned endpoint.
 */
export function joinScheduledEndpoint(options: ScheduledEndpointOptions): ScheduledEndpoint {
  const client = options.hub.connect();
  const endpoint: Omit<ScheduledEndpoint, 'actor' | 'id'> & { actor?: PoolActor; id?: string } = {
    client,
    connections: new Map(),
    duplicateConnections: [],
    emitted: [],
    negotiationErrors: [],
    signallingClosed: 0,
    descriptionsSent: new Map(),
  };
  const actor = createPoolActor({
    messages: client.messages,
    send: (message) => {
      if (message.type === 'rtc:sdp') {
        const { to } = message.data;
        endpoint.descriptionsSent.set(to, (endpoint.descriptionsSent.get(to) ?? 0) + 1);
      }
      client.send(message);
    },
    ...(options.firstOfferTimeoutMs === undefined ? {} : { firstOfferTimeoutMs: options.firstOfferTimeoutMs }),
    // The test leaves the hub itself, after app.close, as an application would.
    closeSignalling: () => {
      endpoint.signallingClosed += 1;
    },
    clock: options.clock,
    createPeerConnection: (peerId) => {
      if (endpoint.connections.has(peerId)) endpoint.duplicateConnections.push(peerId);
      const pc = new SimulatedPeerConnection({
        name: `${client.id} → ${peerId}`,
        schedule: options.schedule,
        ...options.flavour,
      });
      endpoint.connections.set(peerId, { pc, transceivers: [], dataChannels: 0 });
      return pc;
    },
    inspect: (event: InspectionEvent) => {
      // Each negotiation child (and its operations, harmlessly) as it is created.
      if (event.type === '@xstate.actor' && event.actorRef !== endpoint.actor) {
        // Inspection types it loosely; it is the actor itself.
        (event.actorRef as AnyActorRef).on('negotiation.error', (emitted: { error: NegotiationError }) =>
          endpoint.negotiationErrors.push(emitted.error),
        );
      }
    },
  });
  endpoint.actor = actor;
  actor.on('*', (event) => endpoint.emitted.push(event));
  const { onPeer } = options;
  if (onPeer) {
    const announce = (peerId: string) => {
      const connection = endpoint.connections.get(peerId);
      if (connection) onPeer(connection);
    };
    actor.on('pool.joined', ({ peers }) => peers.forEach(announce));
    actor.on('pool.peer', ({ id }) => announce(id));
  }
  actor.send({ type: 'app.join', pool: options.pool });
  if (client.id === null) throw new Error('the hub gave no id on join');
  endpoint.id = client.id;
  return endpoint as ScheduledEndpoint;
}
