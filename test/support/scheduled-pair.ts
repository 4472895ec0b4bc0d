import type fc from 'fast-check';
import {
  createNegotiationActor,
  type NegotiationActor,
  type NegotiationError,
  type OutgoingSignal,
} from '../../src/index.js';
import { schedulerClock } from './scheduler-clock.js';
import { SimulatedPeerConnection, type SimulatedPeerConnectionOptions } from './simulated-peer-connection.js';

export type Flavour = Pick<
  SimulatedPeerConnectionOptions,
  'implicitRollback' | 'parameterlessSetLocalDescription' | 'localRollbackOfRemoteOffer'
>;

export const specFlavour: Flavour = { implicitRollback: true, parameterlessSetLocalDescription: true };
/** What `@roamhq/wrtc` offers: no implicit rollback, no parameterless setLocalDescription. */
export const wrtcFlavour: Flavour = { implicitRollback: false, parameterlessSetLocalDescription: false };
/** What Firefox offers: the specification's, but a remote offer is rolled back only by setRemoteDescription. */
export const firefoxFlavour: Flavour = { ...specFlavour, localRollbackOfRemoteOffer: false };

export type ChangeKind = 'datachannel' | 'audio' | 'video' | 'restartIce' | 'iceFailure';
export interface Change {
  side: 'polite' | 'impolite';
  kind: ChangeKind;
}

export interface Peer {
  name: 'polite' | 'impolite';
  pc: SimulatedPeerConnection;
  actor: NegotiationActor;
  errors: NegotiationError[];
  /** Descriptions this peer sent. */
  descriptions: number;
  /** Local ICE ufrags that an ICE restart asked to replace. */
  restartFrom: Array<string | null>;
  transceivers: Array<{ mid: string | null }>;
  dataChannels: number;
}

/**
 * Two negotiation actors on simulated connections whose every asynchronous
 * step (operation results, connection events, timers, message deliveries)
 * is a task of one fast-check scheduler. Each direction of the signalling
 * channel delivers in order, as a WebSocket does.
 */
export function createScheduledPair(s: fc.Scheduler, flavours: { polite: Flavour; impolite: Flavour }) {
  const schedule = (label: string, run: () => void) => {
    s.schedule(Promise.resolve(), label).then(run);
  };
  const clock = schedulerClock(s);

  const make = (name: 'polite' | 'impolite'): Peer & { inbox: OutgoingSignal[] } => {
    const pc = new SimulatedPeerConnection({ name, schedule, ...flavours[name] });
    const peer = {
      name,
      pc,
      errors: [] as NegotiationError[],
      descriptions: 0,
      restartFrom: [] as Array<string | null>,
      transceivers: [] as Array<{ mid: string | null }>,
      dataChannels: 0,
      inbox: [] as OutgoingSignal[],
    } as Peer & { inbox: OutgoingSignal[] };
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'failed') peer.restartFrom.push(pc.localIceUfrag);
    });
    return peer;
  };
  const polite = make('polite');
  const impolite = make('impolite');

  const wire = (from: typeof polite, to: typeof polite) => {
    from.actor = createNegotiationActor({
      pc: from.pc,
      polite: from.name === 'polite',
      peerId: to.name,
      clock,
      onError: (error) => from.errors.push(error),
      send: (signal) => {
        if (signal.type === 'description') from.descriptions += 1;
        to.inbox.push(signal);
        s.schedule(Promise.resolve(), `${from.name} → ${to.name}: ${signal.type}`).then(() => {
          const next = to.inbox.shift();
          if (!next || to.actor.getSnapshot().status !== 'active') return;
          if (next.type === 'description') to.actor.send({ type: 'signal.description', description: next.description });
          else to.actor.send({ type: 'signal.candidate', candidate: next.candidate });
        });
      },
    });
  };
  wire(polite, impolite);
  wire(impolite, polite);

  const peers = { polite, impolite } as const;

  /** Makes a change on one side, as an application would. */
  const apply = (change: Change): void => {
    const peer = peers[change.side];
    switch (change.kind) {
      case 'datachannel':
        peer.pc.createDataChannel(`dc${peer.dataChannels++}`);
        break;
      case 'audio':
      case 'video':
        peer.transceivers.push(peer.pc.addTransceiver(change.kind));
        break;
      case 'restartIce':
        peer.restartFrom.push(peer.pc.localIceUfrag);
        peer.actor.send({ type: 'app.restartIce' });
        break;
      case 'iceFailure':
        // Toggle so that a second failure is a new `failed` event.
        peer.pc.simulateIceState(peer.pc.iceConnectionState === 'failed' ? 'connected' : 'failed');
        break;
    }
  };

  const stop = () => {
    polite.actor.stop();
    impolite.actor.stop();
  };

  return { polite, impolite, apply, stop };
}

export type ScheduledPair = ReturnType<typeof createScheduledPair>;
