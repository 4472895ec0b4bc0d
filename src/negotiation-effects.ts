/**
 * The real effects of the negotiation machine: what its named actors and
 * actions do to an `RTCPeerConnection` (or anything {@link PeerConnectionLike}).
 *
 * They are provided once, here, and find what they act on through the
 * `lookup` their actor was started with: the owner of the resources hands it
 * over at the call site (a pool one lookup over all its connections,
 * `createNegotiationActor` a one-entry lookup). Providing per owner instead
 * (`negotiationMachine.provide(...)` per pool or per actor) would rebuild the
 * machine's state tree each time: about 0.5 ms and 32 KiB per call, measured,
 * which for a standalone actor is more than its whole negotiation costs.
 */
import { fromPromise } from 'xstate';
import { NegotiationError } from '../machines/errors.js';
import {
  type EffectInput,
  type EffectsLookup,
  type NegotiationEvent,
  negotiationMachine,
} from '../machines/negotiation.js';
import {
  isIceConnectionState,
  type PeerConnectionLike,
  toIceCandidate,
  toSessionDescription,
} from './peer-connection.js';
import type { IceCandidate, SessionDescription } from './protocol/messages.js';
import {
  candidateFitsDescription,
  establishedDtlsRole,
  iceUfrag,
  keepDtlsRole,
  mediaSectionCount,
  sameMedia,
} from './sdp.js';
import type { Logger } from './shared/logger.js';

/** What the negotiation of one connection asks the signalling channel to carry. */
export type OutgoingSignal =
  | {
      /** A local offer or answer, to apply on the other side with `signal.description`. */
      type: 'description';
      /** The description, as plain data (`RTCSessionDescription.toJSON()`). */
      description: SessionDescription;
    }
  | {
      /** A local ICE candidate, to apply on the other side with `signal.candidate`. */
      type: 'candidate';
      /** The candidate as plain data; null: gathering is complete. */
      candidate: IceCandidate | null;
    };

/** What the effects of one negotiation act on, as its owner's lookup returns it. */
export class ConnectionBinding {
  constructor(
    readonly peerId: string,
    readonly pc: PeerConnectionLike,
    /** Carries a description or candidate to the remote peer, in order. */
    readonly send: (signal: OutgoingSignal) => void,
    readonly logger: Logger,
    /** Every negotiation error, for the owner to report. */
    readonly onError: (error: NegotiationError) => void,
  ) {}
}

function bindingOf(lookup: EffectsLookup, peerId: string): ConnectionBinding {
  const binding = lookup(peerId);
  if (binding instanceof ConnectionBinding) return binding;
  throw new NegotiationError('not-provided', `no connection for peer "${peerId}"`);
}

const connectionOf = ({ lookup, peerId }: EffectInput) => bindingOf(lookup, peerId).pc;

/**
 * `setRemoteDescription({ type: 'rollback' })`, outside the type of
 * {@link PeerConnectionLike} (which keeps connections of one's own free of
 * it): called only after the connection's `setLocalDescription` refused to
 * roll back a remote offer, which only a stack that rolls back this way does.
 */
const rollBackRemoteOffer = (pc: PeerConnectionLike): Promise<unknown> =>
  (pc.setRemoteDescription as unknown as (description: { type: 'rollback' }) => Promise<unknown>).call(pc, {
    type: 'rollback',
  });

/** The negotiation machine with its real effects: the one every connection is negotiated by. */
export const connectedNegotiationMachine = negotiationMachine.provide({
  actors: {
    makeOffer: fromPromise(async ({ input, signal }) => {
      const pc = connectionOf(input);
      const offer = toSessionDescription(await pc.createOffer(input.iceRestart ? { iceRestart: true } : undefined));
      signal.throwIfAborted();
      // Creating an offer has no effect until it is set: a probe for "is there anything to negotiate?".
      if (!input.iceRestart && pc.localDescription && sameMedia(pc.localDescription, offer)) return null;
      // Nor is a first offer without m-sections worth a round: Chromium asks for one after withdrawing the remote
      // offer it failed to answer, and it would only make the other side yield its real offer.
      if (!pc.localDescription && mediaSectionCount(offer.sdp) === 0) return null;
      await pc.setLocalDescription(offer);
      return offer;
    }),
    makeAnswer: fromPromise(async ({ input, signal }) => {
      const pc = connectionOf(input);
      // Read before anything changes: the association the last completed negotiation set up.
      const previousRemote = pc.currentRemoteDescription;
      const role = establishedDtlsRole(pc.localDescription, previousRemote);
      const created = toSessionDescription(await pc.createAnswer());
      signal.throwIfAborted();
      // Firefox answers an ICE restart as a new DTLS client even when it is the server; libwebrtc refuses that.
      const answer = pc.remoteDescription ? keepDtlsRole(created, role, pc.remoteDescription, previousRemote) : created;
      await pc.setLocalDescription(answer);
      return answer;
    }),
    acceptRemoteDescription: fromPromise(async ({ input }) => {
      const pc = connectionOf(input);
      const before = pc.remoteDescription ? iceUfrag(pc.remoteDescription.sdp) : undefined;
      await pc.setRemoteDescription(input.description);
      return { restartsIce: before !== undefined && before !== iceUfrag(input.description.sdp) };
    }),
    rollback: fromPromise(async ({ input }) => {
      const pc = connectionOf(input);
      if (pc.signalingState !== 'stable') {
        try {
          await pc.setLocalDescription({ type: 'rollback' });
        } catch (error) {
          // Firefox rolls back only its own offer this way; a remote offer is withdrawn with setRemoteDescription.
          if (pc.signalingState !== 'have-remote-offer') throw error;
          await rollBackRemoteOffer(pc).catch(() => {
            throw error;
          });
        }
      }
      return { hasRemoteDescription: pc.remoteDescription !== null };
    }),
  },
  actions: {
    sendDescription: ({ context }, { description }) => {
      const { send, logger, peerId } = bindingOf(context.lookup, context.peerId);
      logger.log('debug', 'negotiation', `send ${description.type}`, { peerId });
      send({ type: 'description', description });
    },
    sendCandidates: ({ context }, { candidates }) => {
      const { send } = bindingOf(context.lookup, context.peerId);
      for (const candidate of candidates) send({ type: 'candidate', candidate });
    },
    addIceCandidates: ({ context, self }, { candidates }) => {
      const { pc } = bindingOf(context.lookup, context.peerId);
      // Not awaited: each call is chained behind the remote description the
      // machine has already applied, and nothing waits on the result.
      for (const candidate of candidates) {
        // Trickle of an ignored, rolled-back or restarted description is moot. Checked before adding, not on
        // rejection: libwebrtc accepts a candidate of another ICE generation and applies it to the next remote
        // description, where it does not belong.
        const remote = pc.remoteDescription?.sdp;
        if (candidate !== null && remote !== undefined && !candidateFitsDescription(candidate, remote)) continue;
        const added = candidate === null ? pc.addIceCandidate() : pc.addIceCandidate(candidate);
        added.catch((error: unknown) => {
          if (self.getSnapshot().status !== 'active') return;
          // The remote description may have changed since the call: judge against the one now applied.
          const now = pc.remoteDescription?.sdp;
          const superseded = candidate !== null && now !== undefined && !candidateFitsDescription(candidate, now);
          self.send({ type: 'pc.candidaterejected', error, superseded });
        });
      }
    },
    restartIce: ({ context }) => bindingOf(context.lookup, context.peerId).pc.restartIce?.(),
    closeConnection: ({ context }) => bindingOf(context.lookup, context.peerId).pc.close(),
    notifyError: ({ context }, { code, cause }) => {
      const { logger, peerId, onError } = bindingOf(context.lookup, context.peerId);
      const error = NegotiationError.from(code, cause);
      logger.log('warn', 'negotiation', error.message, { peerId, code });
      onError(error);
    },
  },
});

/**
 * Turns the connection's events into machine events. Plain listeners rather
 * than a child actor: an idle negotiator is then one actor, not two.
 * Returns the function that removes them.
 */
export function forwardConnectionEvents(
  pc: PeerConnectionLike,
  deliver: (event: NegotiationEvent) => void,
): () => void {
  const listeners: Record<string, (event: unknown) => void> = {
    negotiationneeded: () => deliver({ type: 'pc.negotiationneeded' }),
    icecandidate: (event) => deliver({ type: 'pc.icecandidate', candidate: toIceCandidate(event) }),
    iceconnectionstatechange: () => {
      if (isIceConnectionState(pc.iceConnectionState)) {
        deliver({ type: 'pc.iceconnectionstatechange', state: pc.iceConnectionState });
      }
    },
    // Only `failed` means anything to the machine (it restarts ICE); the other states would each cost it a step.
    connectionstatechange: () => {
      if (pc.connectionState === 'failed') deliver({ type: 'pc.connectionstatechange', state: 'failed' });
    },
  };
  for (const [type, listener] of Object.entries(listeners)) pc.addEventListener(type, listener);
  return () => {
    for (const [type, listener] of Object.entries(listeners)) pc.removeEventListener(type, listener);
  };
}
