import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type SimulatedDescription,
  type SimulatedEvent,
  SimulatedPeerConnection,
  type SimulatedPeerConnectionOptions,
} from './simulated-peer-connection.js';
import { parseSimulatedSdp } from './simulated-session.js';

/** Holds every scheduled task until the test runs it. */
class ManualScheduler {
  readonly #tasks: Array<{ label: string; run: () => void }> = [];
  readonly schedule = (label: string, run: () => void): void => {
    this.#tasks.push({ label, run });
  };

  get labels(): string[] {
    return this.#tasks.map((task) => task.label);
  }

  /**
   * Runs tasks in order, letting promise reactions settle after each, until
   * only held ones (if any) are left.
   */
  async runAll(hold: (label: string) => boolean = () => false): Promise<void> {
    for (let ran = 0; ran < 10_000; ran += 1) {
      const index = this.#tasks.findIndex((task) => !hold(task.label));
      const [task] = index === -1 ? [] : this.#tasks.splice(index, 1);
      if (!task) return;
      task.run();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    throw new Error('tasks keep scheduling tasks');
  }
}

function setup(options: SimulatedPeerConnectionOptions = {}) {
  const scheduler = new ManualScheduler();
  const a = new SimulatedPeerConnection({ name: 'a', schedule: scheduler.schedule, ...options });
  const b = new SimulatedPeerConnection({ name: 'b', schedule: scheduler.schedule, ...options });
  return { scheduler, a, b };
}

/** Settles `promise` by running tasks; resolves to 'ok' or the error's name. */
async function outcome(scheduler: ManualScheduler, promise: Promise<unknown>): Promise<string> {
  const named = promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof Error || error instanceof DOMException ? error.name : String(error)),
  );
  await scheduler.runAll();
  return named;
}

async function settled<T>(scheduler: ManualScheduler, promise: Promise<T>): Promise<T> {
  await scheduler.runAll();
  return promise;
}

/** offerer offers, answerer answers, explicitly, running every task. */
async function negotiate(
  scheduler: ManualScheduler,
  offerer: SimulatedPeerConnection,
  answerer: SimulatedPeerConnection,
) {
  const offer = await settled(scheduler, offerer.createOffer());
  await settled(scheduler, offerer.setLocalDescription(offer));
  await settled(scheduler, answerer.setRemoteDescription(offer));
  const answer = await settled(scheduler, answerer.createAnswer());
  await settled(scheduler, answerer.setLocalDescription(answer));
  await settled(scheduler, offerer.setRemoteDescription(answer));
  return { offer, answer };
}

function record(pc: SimulatedPeerConnection, type: string): SimulatedEvent[] {
  const events: SimulatedEvent[] = [];
  pc.addEventListener(type, (event) => events.push(event));
  return events;
}

function signalingTrace(pc: SimulatedPeerConnection): string[] {
  const trace: string[] = [];
  pc.addEventListener('signalingstatechange', () => trace.push(pc.signalingState));
  return trace;
}

const sectionsOf = (description: SimulatedDescription | null) =>
  description ? parseSimulatedSdp(description.sdp).sections.map((s) => `${s.kind}:${s.mid}`) : [];

describe('SimulatedPeerConnection signaling', () => {
  it('moves both sides through stable, have-local-offer / have-remote-offer and back', async () => {
    const { scheduler, a, b } = setup();
    const traceA = signalingTrace(a);
    const traceB = signalingTrace(b);
    a.createDataChannel('chat');
    expect([a.signalingState, a.iceConnectionState, a.connectionState]).toEqual(['stable', 'new', 'new']);

    const offer = await settled(scheduler, a.createOffer());
    expect(a.signalingState).toBe('stable');
    await settled(scheduler, a.setLocalDescription(offer));
    expect(a.pendingLocalDescription).toEqual(offer);
    await settled(scheduler, b.setRemoteDescription(offer));
    expect(b.pendingRemoteDescription).toEqual(offer);
    const answer = await settled(scheduler, b.createAnswer());
    await settled(scheduler, b.setLocalDescription(answer));
    await settled(scheduler, a.setRemoteDescription(answer));

    expect(traceA).toEqual(['have-local-offer', 'stable']);
    expect(traceB).toEqual(['have-remote-offer', 'stable']);
    expect(a.currentLocalDescription).toEqual(offer);
    expect(a.currentRemoteDescription).toEqual(answer);
    expect([a.pendingLocalDescription, a.pendingRemoteDescription]).toEqual([null, null]);
    expect(a.negotiatedMids()).toEqual(['0']);
    expect(b.negotiatedMids()).toEqual(['0']);
    expect(a.remoteIceUfrag).toBe(b.localIceUfrag);
    expect(b.remoteIceUfrag).toBe(a.localIceUfrag);
    expect(a.localIceUfrag).not.toBe(b.localIceUfrag);
  });

  it('gives the answerer a transceiver per offered m-section, and the answer the same m-sections', async () => {
    const { scheduler, a, b } = setup();
    a.createDataChannel('chat');
    a.addTransceiver('video');
    a.addTransceiver('audio');
    const { offer, answer } = await negotiate(scheduler, a, b);
    expect(sectionsOf(offer)).toEqual(['video:0', 'audio:1', 'application:2']);
    expect(sectionsOf(answer)).toEqual(sectionsOf(offer));
    expect(b.getTransceivers().map((t) => `${t.kind}:${t.mid}`)).toEqual(['video:0', 'audio:1']);
    expect(a.getTransceivers().map((t) => t.mid)).toEqual(['0', '1']);
    expect(b.localMids()).toEqual(['0', '1', '2']);
    expect([a.hasUnnegotiatedChanges(), b.hasUnnegotiatedChanges()]).toEqual([false, false]);
  });

  it('keeps negotiated m-sections in order and raises the session version on renegotiation', async () => {
    const { scheduler, a, b } = setup();
    a.createDataChannel('chat');
    const first = await negotiate(scheduler, a, b);
    a.createDataChannel('second');
    expect(a.hasUnnegotiatedChanges()).toBe(false);
    a.addTransceiver('audio');
    expect(a.hasUnnegotiatedChanges()).toBe(true);
    const second = await negotiate(scheduler, a, b);
    expect(sectionsOf(second.offer)).toEqual(['application:0', 'audio:1']);
    expect(parseSimulatedSdp(second.offer.sdp).version).toBeGreaterThan(parseSimulatedSdp(first.offer.sdp).version);
    expect(b.negotiatedMids()).toEqual(['0', '1']);
  });

  it('creates the offer or answer itself for a parameterless setLocalDescription()', async () => {
    const { scheduler, a, b } = setup();
    a.addTransceiver('audio');
    await settled(scheduler, a.setLocalDescription());
    expect(a.signalingState).toBe('have-local-offer');
    const offer = a.localDescription;
    if (!offer) throw new Error('no local offer');
    await settled(scheduler, b.setRemoteDescription(offer));
    await settled(scheduler, b.setLocalDescription());
    expect(b.signalingState).toBe('stable');
    expect(b.currentLocalDescription?.type).toBe('answer');
  });
});

describe('SimulatedPeerConnection operations chain', () => {
  it('settles nothing until its scheduled task runs', async () => {
    const { scheduler, a } = setup();
    let done = false;
    const offer = a.createOffer().then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(done).toBe(false);
    expect(scheduler.labels).toEqual(['a: createOffer']);
    await settled(scheduler, offer);
    expect(done).toBe(true);
  });

  it('runs chained operations one at a time, in call order', async () => {
    const { scheduler, a } = setup();
    a.createDataChannel('chat');
    const order: string[] = [];
    const offer = a.createOffer().then(() => order.push('createOffer'));
    const local = a.setLocalDescription().then(() => order.push('setLocalDescription'));
    expect(a.pendingOperations).toBe(2);
    // Only the head of the chain has started; negotiationneeded waits too.
    expect(scheduler.labels).toEqual(['a: negotiationneeded', 'a: createOffer']);
    await settled(scheduler, Promise.all([offer, local]));
    expect(order).toEqual(['createOffer', 'setLocalDescription']);
    expect(a.pendingOperations).toBe(0);
  });

  it('never settles operations pending at close(), and rejects later calls', async () => {
    const { scheduler, a } = setup();
    let settledAtAll = false;
    void a.createOffer().finally(() => {
      settledAtAll = true;
    });
    a.close();
    await scheduler.runAll();
    expect(settledAtAll).toBe(false);
    expect([a.signalingState, a.iceConnectionState, a.connectionState]).toEqual(['closed', 'closed', 'closed']);
    for (const call of [
      () => a.createOffer(),
      () => a.createAnswer(),
      () => a.setLocalDescription({ type: 'rollback' }),
      () => a.setRemoteDescription({ type: 'offer', sdp: 'v=0' }),
      () => a.addIceCandidate(null),
    ]) {
      expect(await outcome(scheduler, call())).toBe('InvalidStateError');
    }
    expect(() => a.createDataChannel('late')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
    expect(() => a.addTransceiver('audio')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
  });
});

describe('SimulatedPeerConnection errors', () => {
  it('rejects calls in the wrong signaling state with InvalidStateError', async () => {
    const { scheduler, a, b } = setup();
    a.addTransceiver('audio');
    expect(await outcome(scheduler, a.createAnswer())).toBe('InvalidStateError');
    expect(await outcome(scheduler, a.setLocalDescription({ type: 'rollback' }))).toBe('InvalidStateError');
    expect(await outcome(scheduler, a.addIceCandidate(null))).toBe('InvalidStateError');
    // The implicit answer cannot be created outside have-remote-offer.
    expect(await outcome(scheduler, a.setLocalDescription({ type: 'answer' }))).toBe('InvalidStateError');

    const offer = await settled(scheduler, b.createOffer());
    await settled(scheduler, b.setLocalDescription(offer));
    expect(await outcome(scheduler, a.setRemoteDescription({ type: 'answer', sdp: offer.sdp }))).toBe(
      'InvalidStateError',
    );
    await settled(scheduler, a.setRemoteDescription(offer));
    const ownOffer = await settled(scheduler, a.createOffer());
    expect(await outcome(scheduler, a.setLocalDescription(ownOffer))).toBe('InvalidStateError');
    expect(a.signalingState).toBe('have-remote-offer');
  });

  it('refuses an offer in have-local-offer without implicit rollback, as libwebrtc does', async () => {
    const { scheduler, a, b } = setup({ implicitRollback: false });
    a.addTransceiver('audio');
    b.addTransceiver('video');
    await settled(scheduler, a.setLocalDescription(await settled(scheduler, a.createOffer())));
    const offer = await settled(scheduler, b.createOffer());
    const refused = a.setRemoteDescription(offer).catch((error: unknown) => error);
    await scheduler.runAll();
    expect(await refused).toMatchObject({ name: 'InvalidStateError', message: expect.stringMatching(/wrong state/) });
    expect(a.signalingState).toBe('have-local-offer');
  });

  it('rejects SDP other than the last created offer or answer with InvalidModificationError', async () => {
    const { scheduler, a } = setup();
    a.addTransceiver('audio');
    const first = await settled(scheduler, a.createOffer());
    const modified = first.sdp.replace('s=-', 's=changed');
    expect(await outcome(scheduler, a.setLocalDescription({ type: 'offer', sdp: modified }))).toBe(
      'InvalidModificationError',
    );
    await settled(scheduler, a.createOffer({ iceRestart: true }));
    expect(await outcome(scheduler, a.setLocalDescription(first))).toBe('InvalidModificationError');
    // Per the specification the SDP check comes before the state check.
    expect(await outcome(scheduler, a.setLocalDescription({ type: 'answer', sdp: first.sdp }))).toBe(
      'InvalidModificationError',
    );
    expect(a.signalingState).toBe('stable');
  });

  it('rejects setLocalDescription() with TypeError where it is not supported', async () => {
    const { scheduler, a } = setup({ parameterlessSetLocalDescription: false });
    a.addTransceiver('audio');
    const refused = a.setLocalDescription().catch((error: unknown) => error);
    await scheduler.runAll();
    expect(await refused).toEqual(new TypeError('Expected an object'));
    expect(await outcome(scheduler, a.setLocalDescription({ type: 'offer' }))).toBe('OperationError');
    expect(a.signalingState).toBe('stable');
  });

  it('rejects a candidate naming no m-section with TypeError', async () => {
    const { scheduler, a } = setup();
    expect(await outcome(scheduler, a.addIceCandidate({ candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' }))).toBe(
      'TypeError',
    );
  });
});

describe('SimulatedPeerConnection rollback', () => {
  it('rolls a local offer back explicitly and re-fires negotiationneeded for what it carried', async () => {
    const { scheduler, a } = setup();
    const needed = record(a, 'negotiationneeded');
    const trace = signalingTrace(a);
    const transceiver = a.addTransceiver('audio');
    await settled(scheduler, a.setLocalDescription(await settled(scheduler, a.createOffer())));
    expect(transceiver.mid).toBe('0');
    await settled(scheduler, a.setLocalDescription({ type: 'rollback' }));
    expect(trace).toEqual(['have-local-offer', 'stable']);
    expect([a.localDescription, transceiver.mid]).toEqual([null, null]);
    expect(needed).toHaveLength(2);
  });

  it('rolls a remote offer back, dropping the transceivers it created', async () => {
    const { scheduler, a, b } = setup();
    a.addTransceiver('audio');
    a.createDataChannel('chat');
    const offer = await settled(scheduler, a.createOffer());
    await settled(scheduler, b.setRemoteDescription(offer));
    expect(b.getTransceivers()).toHaveLength(1);
    await settled(scheduler, b.setLocalDescription({ type: 'rollback' }));
    expect([b.signalingState, b.remoteDescription, b.getTransceivers().length]).toEqual(['stable', null, 0]);
    expect(b.hasUnnegotiatedChanges()).toBe(false);
  });

  it('rolls back implicitly for an offer in have-local-offer, then renegotiates its own change', async () => {
    const { scheduler, a, b } = setup();
    const traceB = signalingTrace(b);
    const neededB = record(b, 'negotiationneeded');
    a.createDataChannel('chat');
    const own = b.addTransceiver('video');
    await scheduler.runAll();
    expect(neededB).toHaveLength(1);
    await settled(scheduler, b.setLocalDescription(await settled(scheduler, b.createOffer())));
    const offer = await settled(scheduler, a.createOffer());
    await settled(scheduler, a.setLocalDescription(offer));
    await settled(scheduler, b.setRemoteDescription(offer));
    expect(traceB).toEqual(['have-local-offer', 'stable', 'have-remote-offer']);
    expect(own.mid).toBeNull();
    await settled(scheduler, b.setLocalDescription(await settled(scheduler, b.createAnswer())));
    await settled(scheduler, a.setRemoteDescription(b.localDescription ?? offer));
    expect(neededB).toHaveLength(2);
    const { offer: renegotiation } = await negotiate(scheduler, b, a);
    expect(sectionsOf(renegotiation)).toEqual(['application:0', 'video:1']);
    expect(a.negotiatedMids()).toEqual(['0', '1']);
  });
});

describe('SimulatedPeerConnection negotiationneeded', () => {
  it('fires once for a burst of changes made together', async () => {
    const { scheduler, a } = setup();
    const needed = record(a, 'negotiationneeded');
    a.createDataChannel('one');
    a.createDataChannel('two');
    a.addTransceiver('audio');
    a.restartIce();
    await scheduler.runAll();
    expect(needed).toHaveLength(1);
  });

  it('does not update the flag for a second data channel', async () => {
    const { scheduler, a, b } = setup();
    const needed = record(a, 'negotiationneeded');
    a.createDataChannel('one');
    await negotiate(scheduler, a, b);
    a.createDataChannel('two');
    expect(scheduler.labels).toEqual([]);
    expect(needed).toHaveLength(1);
  });

  it('waits for the operations chain to empty', async () => {
    const { scheduler, a } = setup();
    const needed = record(a, 'negotiationneeded');
    const offer = a.createOffer();
    a.addTransceiver('audio');
    expect(scheduler.labels).toEqual(['a: createOffer']);
    await scheduler.runAll((label) => label === 'a: negotiationneeded');
    await offer;
    // The offer was only created, not applied: the change still needs negotiating.
    expect(scheduler.labels).toEqual(['a: negotiationneeded']);
    await scheduler.runAll();
    expect(needed).toHaveLength(1);
  });

  it('stays quiet outside stable and fires once stable with the change unnegotiated', async () => {
    const { scheduler, a, b } = setup();
    const needed = record(a, 'negotiationneeded');
    a.createDataChannel('chat');
    await scheduler.runAll();
    const offer = await settled(scheduler, a.createOffer());
    await settled(scheduler, a.setLocalDescription(offer));
    a.addTransceiver('audio');
    await scheduler.runAll();
    expect(needed).toHaveLength(1);
    await settled(scheduler, b.setRemoteDescription(offer));
    const answer = await settled(scheduler, b.createAnswer());
    await settled(scheduler, b.setLocalDescription(answer));
    await settled(scheduler, a.setRemoteDescription(answer));
    expect(needed).toHaveLength(2);
    await negotiate(scheduler, a, b);
    expect(needed).toHaveLength(2);
  });

  it('does not fire for a change negotiated before its task ran', async () => {
    const { scheduler, a, b } = setup();
    const needed = record(a, 'negotiationneeded');
    a.createDataChannel('chat');
    const isNeeded = (label: string) => label === 'a: negotiationneeded';
    const run = async <T>(promise: Promise<T>) => {
      await scheduler.runAll(isNeeded);
      return promise;
    };
    const offer = await run(a.createOffer());
    await run(a.setLocalDescription(offer));
    await run(b.setRemoteDescription(offer));
    const answer = await run(b.createAnswer());
    await run(b.setLocalDescription(answer));
    await run(a.setRemoteDescription(answer));
    expect(scheduler.labels.filter(isNeeded).length).toBeGreaterThan(0);
    await scheduler.runAll();
    expect(needed).toHaveLength(0);
  });

  it('does not fire once closed', async () => {
    const { scheduler, a } = setup();
    const needed = record(a, 'negotiationneeded');
    a.addTransceiver('audio');
    a.close();
    await scheduler.runAll();
    expect(needed).toHaveLength(0);
  });
});

describe('SimulatedPeerConnection ICE', () => {
  it('gathers one candidate and end-of-candidates per ICE generation, in scheduled tasks', async () => {
    const { scheduler, a, b } = setup();
    const candidates = record(a, 'icecandidate');
    a.createDataChannel('chat');
    const offer = await settled(scheduler, a.createOffer());
    const local = a.setLocalDescription(offer);
    await scheduler.runAll((label) => label === 'a: icecandidate');
    await local;
    expect(candidates).toHaveLength(0);
    await scheduler.runAll();
    const ufrag = parseSimulatedSdp(offer.sdp).iceUfrag;
    expect(candidates.map((event) => event.candidate?.usernameFragment ?? event.candidate)).toEqual([ufrag, null]);
    expect(candidates[0]?.candidate).toMatchObject({ sdpMid: '0', sdpMLineIndex: 0 });
    expect(candidates[0]?.candidate?.candidate).toContain(`ufrag ${ufrag}`);

    await settled(scheduler, b.setRemoteDescription(offer));
    expect(await outcome(scheduler, b.addIceCandidate(candidates[0]?.candidate))).toBe('ok');
    for (const end of [null, undefined, { candidate: '', sdpMid: '0' }]) {
      expect(await outcome(scheduler, b.addIceCandidate(end))).toBe('ok');
    }
    const stranger = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', usernameFragment: 'nope' };
    expect(await outcome(scheduler, b.addIceCandidate(stranger))).toBe('OperationError');
    expect(await outcome(scheduler, b.addIceCandidate({ ...stranger, usernameFragment: ufrag, sdpMid: '9' }))).toBe(
      'OperationError',
    );
    expect(b.remoteCandidates).toHaveLength(1);
  });

  it('restarts ICE through restartIce() and through createOffer({ iceRestart })', async () => {
    const { scheduler, a, b } = setup();
    const needed = record(a, 'negotiationneeded');
    a.createDataChannel('chat');
    await negotiate(scheduler, a, b);
    const [ufragA, ufragB] = [a.localIceUfrag, b.localIceUfrag];

    a.restartIce();
    await scheduler.runAll();
    expect(needed).toHaveLength(2);
    expect(a.hasUnnegotiatedChanges()).toBe(true);
    await negotiate(scheduler, a, b);
    expect(a.localIceUfrag).not.toBe(ufragA);
    expect(b.localIceUfrag).not.toBe(ufragB);
    expect(a.remoteIceUfrag).toBe(b.localIceUfrag);
    expect(a.hasUnnegotiatedChanges()).toBe(false);
    expect(needed).toHaveLength(2);

    const before = a.localIceUfrag;
    const restart = await settled(scheduler, a.createOffer({ iceRestart: true }));
    expect(parseSimulatedSdp(restart.sdp).iceUfrag).not.toBe(before);
    const plain = await settled(scheduler, a.createOffer());
    expect(parseSimulatedSdp(plain.sdp).iceUfrag).toBe(before);
  });

  it('sets both connection states and fires both events from simulateIceState', async () => {
    const { scheduler, a } = setup();
    const events: string[] = [];
    a.addEventListener('iceconnectionstatechange', () => events.push(`ice:${a.iceConnectionState}`));
    a.addEventListener('connectionstatechange', () => events.push(`pc:${a.connectionState}`));
    a.simulateIceState('checking');
    expect(a.iceConnectionState).toBe('new');
    await scheduler.runAll();
    a.simulateIceState('connected');
    a.simulateIceState('completed');
    a.simulateIceState('failed');
    await scheduler.runAll();
    expect(events).toEqual([
      'ice:checking',
      'pc:connecting',
      'ice:connected',
      'pc:connected',
      'ice:completed',
      'ice:failed',
      'pc:failed',
    ]);
  });
});

describe('SimulatedPeerConnection events', () => {
  it('counts listeners and forgets removed ones', () => {
    const a = new SimulatedPeerConnection();
    const listener = () => undefined;
    a.addEventListener('negotiationneeded', listener);
    a.addEventListener('icecandidate', listener);
    a.addEventListener('icecandidate', listener);
    expect([a.listenerCount(), a.listenerCount('icecandidate')]).toEqual([2, 1]);
    a.removeEventListener('icecandidate', listener);
    a.removeEventListener('negotiationneeded', listener);
    expect(a.listenerCount()).toBe(0);
    a.close();
  });
});

describe('SimulatedPeerConnection under a fast-check scheduler', () => {
  type Change = 'audio' | 'video' | 'data' | 'restart';
  const apply = (pc: SimulatedPeerConnection, change: Change) => {
    if (change === 'data') pc.createDataChannel('chat');
    else if (change === 'restart') pc.restartIce();
    else pc.addTransceiver(change);
  };

  it('fires negotiationneeded only when stable, idle and with something to negotiate, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom<Change>('audio', 'video', 'data', 'restart')), {
          maxLength: 6,
        }),
        async (s, changes) => {
          const schedule = (label: string, run: () => void) => {
            void s.schedule(Promise.resolve(), label).then(run);
          };
          const pcs = {
            a: new SimulatedPeerConnection({ name: 'a', schedule }),
            b: new SimulatedPeerConnection({ name: 'b', schedule }),
          };
          const violations: string[] = [];
          for (const pc of Object.values(pcs)) {
            pc.addEventListener('negotiationneeded', () => {
              if (pc.signalingState !== 'stable' || pc.pendingOperations > 0 || !pc.hasUnnegotiatedChanges()) {
                violations.push(`${pc.name}: ${pc.signalingState}, ${pc.pendingOperations} pending`);
              }
            });
          }
          const exchange = async (offerer: SimulatedPeerConnection, answerer: SimulatedPeerConnection) => {
            await offerer.setLocalDescription();
            const offer = offerer.localDescription;
            if (offer?.type !== 'offer') return;
            await answerer.setRemoteDescription(offer);
            await answerer.setLocalDescription();
            const answer = answerer.localDescription;
            if (answer?.type === 'answer') await offerer.setRemoteDescription(answer);
          };
          // Both sides offer when asked; bounded, as impolite glare can go on for ever.
          const exchanges: Array<Promise<unknown>> = [];
          const offerWhenNeeded = (offerer: SimulatedPeerConnection, answerer: SimulatedPeerConnection) =>
            offerer.addEventListener('negotiationneeded', () => {
              if (exchanges.length < 8) exchanges.push(exchange(offerer, answerer).catch(() => 'glare'));
            });
          offerWhenNeeded(pcs.a, pcs.b);
          offerWhenNeeded(pcs.b, pcs.a);
          for (const [side, change] of changes) apply(pcs[side], change);
          await s.waitIdle();
          await Promise.all(exchanges);
          for (const pc of Object.values(pcs)) pc.close();
          expect(violations).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
