/**
 * Guards the public types. Checked by `tsc` (vitest typecheck); the bodies
 * are never executed, so they may build values that could not run.
 */
import type wrtc from '@roamhq/wrtc';
import { describe, expectTypeOf, test } from 'vitest';
import type { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import { fromPromise } from 'xstate';
import {
  createNegotiationActor,
  type NegotiationActor,
  type NegotiationError,
  type NegotiationErrorCode,
  negotiationMachine,
  type OutgoingSignal,
  type PeerConnectionLike,
  type SessionDescription,
} from '../../src/index.js';

describe('PeerConnectionLike', () => {
  test('the browser, @roamhq/wrtc and werift connections all fit', () => {
    expectTypeOf<RTCPeerConnection>().toExtend<PeerConnectionLike>();
    expectTypeOf<InstanceType<typeof wrtc.RTCPeerConnection>>().toExtend<PeerConnectionLike>();
    expectTypeOf<WeriftPeerConnection>().toExtend<PeerConnectionLike>();
  });
});

describe('createNegotiationActor', () => {
  test('takes a connection, a role and a send function; returns the typed actor', () => {
    expectTypeOf(createNegotiationActor).returns.toEqualTypeOf<NegotiationActor>();
    expectTypeOf<Parameters<typeof createNegotiationActor>[0]['send']>().parameter(0).toEqualTypeOf<OutgoingSignal>();
    expectTypeOf<NegotiationError['code']>().toEqualTypeOf<NegotiationErrorCode>();
  });

  test('rejects what the machine cannot take', () => {
    const misuse = (pc: PeerConnectionLike, actor: NegotiationActor) => {
      // @ts-expect-error the role is required
      createNegotiationActor({ pc, send: () => undefined });
      // @ts-expect-error events are namespaced; there is no `signal.sdp`
      actor.send({ type: 'signal.sdp' });
      // @ts-expect-error a signalled description is an offer or an answer, never a rollback
      actor.send({ type: 'signal.description', description: { type: 'rollback', sdp: '' } });
      // @ts-expect-error the application cannot claim the connection's own events' payloads wrongly
      actor.send({ type: 'pc.iceconnectionstatechange', state: 'exploded' });
    };
    expectTypeOf(misuse).toBeFunction();
  });

  test('emits typed negotiation errors', () => {
    const listen = (actor: NegotiationActor) =>
      actor.on('negotiation.error', (event) => {
        expectTypeOf(event.error).toEqualTypeOf<NegotiationError>();
      });
    expectTypeOf(listen).toBeFunction();
  });
});

describe('negotiationMachine.provide()', () => {
  test('checks effect signatures', () => {
    const provide = () => {
      negotiationMachine.provide({
        actors: {
          makeOffer: fromPromise(async (): Promise<SessionDescription | null> => ({ type: 'offer', sdp: '' })),
        },
        actions: {
          sendDescription: (_, params) => expectTypeOf(params.description).toEqualTypeOf<SessionDescription>(),
        },
      });
      // @ts-expect-error makeOffer must produce a session description
      negotiationMachine.provide({ actors: { makeOffer: fromPromise(async () => 42) } });
      // @ts-expect-error there is no such effect
      negotiationMachine.provide({ actions: { sendOffer: () => undefined } });
    };
    expectTypeOf(provide).toBeFunction();
  });
});

describe('the layers agree on the data they pass', () => {
  test("the machines' plain descriptions and candidates are the wire protocol's, both ways", () => {
    type MachineDescription = import('../../machines/types.js').SessionDescription;
    type MachineCandidate = import('../../machines/types.js').IceCandidate;
    type MachineJson = import('../../machines/types.js').JsonValue;
    type WireDescription = import('../../src/protocol/index.js').SessionDescription;
    type WireCandidate = import('../../src/protocol/index.js').IceCandidate;
    type WireJson = import('../../src/protocol/index.js').JsonValue;
    expectTypeOf<MachineDescription>().toEqualTypeOf<WireDescription>();
    expectTypeOf<MachineCandidate>().toEqualTypeOf<WireCandidate>();
    expectTypeOf<MachineJson>().toEqualTypeOf<WireJson>();
  });
});

describe('errors', () => {
  test('every error class is an RtcpoolError with a typed code', () => {
    type Errors = typeof import('../../src/index.js');
    expectTypeOf<InstanceType<Errors['PoolError']>>().toExtend<InstanceType<Errors['RtcpoolError']>>();
    expectTypeOf<InstanceType<Errors['SignallingError']>>().toExtend<InstanceType<Errors['RtcpoolError']>>();
    expectTypeOf<InstanceType<Errors['SignallingClosedError']>>().toExtend<InstanceType<Errors['RtcpoolError']>>();
    // The machines' error has the same shape, though it cannot extend the class (machines/ imports only XState).
    expectTypeOf<NegotiationError>().toExtend<InstanceType<Errors['RtcpoolError']>>();
    expectTypeOf<InstanceType<Errors['PoolError']>['code']>().toEqualTypeOf<
      import('../../src/index.js').PoolErrorCode
    >();
    expectTypeOf<import('../../src/index.js').PoolEventError['code']>().not.toEqualTypeOf<string>();
  });
});
