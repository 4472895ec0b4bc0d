/**
 * Keeps the simulated peer connection honest: scripted operation sequences
 * run on a pair of simulated connections and on a pair of real ones
 * (`@roamhq/wrtc`, `werift`), and the traces must match step by step:
 * signaling states, which calls fail and with which error name, the
 * m-sections and ICE generation of every created description, how many
 * negotiationneeded events fired, and the signalingstatechange events.
 *
 * Where a real stack departs from the specification (which the model
 * follows), the departure is written down below in `divergences`, checked to
 * still be a departure (the model must disagree with it), and only then
 * patched into the expected trace. Nothing else may differ.
 */
import wrtc from '@roamhq/wrtc';
import { describe, expect, it } from 'vitest';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import type { IceCandidate } from '../../src/types.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';

/** What the scripts use of a peer connection; the model and both real stacks have it. */
interface ScriptedPeer {
  readonly signalingState: string;
  readonly localDescription: { readonly type: string; readonly sdp: string } | null;
  readonly currentLocalDescription: { readonly type: string; readonly sdp: string } | null;
  createOffer(options?: { iceRestart?: boolean }): Promise<{ type: string; sdp?: string }>;
  createAnswer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(description?: { type: 'offer' | 'answer' | 'rollback'; sdp?: string }): Promise<unknown>;
  setRemoteDescription(description: { type: 'offer' | 'answer'; sdp: string }): Promise<unknown>;
  addIceCandidate(candidate?: IceCandidate | null): Promise<unknown>;
  createDataChannel(label: string): unknown;
  addTransceiver(kind: 'audio' | 'video'): unknown;
  restartIce(): void;
  close(): void;
  addEventListener(type: string, listener: (event: unknown) => void): void;
}

type Side = 'A' | 'B';
type Action =
  | 'dataChannel'
  | 'audio'
  | 'video'
  | 'restartIce'
  | 'createOffer'
  | 'createOffer iceRestart'
  | 'createAnswer'
  /** setLocalDescription with this side's last created offer / answer. */
  | 'setLocal offer'
  | 'setLocal answer'
  | 'setLocal rollback'
  /** setLocalDescription() without a description. */
  | 'setLocal nothing'
  /** This side's last offer with one SDP line changed. */
  | 'setLocal munged offer'
  /** This side's last offer, presented as an answer. */
  | 'setLocal offer as answer'
  /** setRemoteDescription with the other side's last created offer / answer. */
  | 'setRemote offer'
  | 'setRemote answer'
  /** A candidate the other side gathered for its current ICE generation. */
  | 'addCandidate gathered'
  /** The same, relabelled with an ICE username fragment nobody uses. */
  | 'addCandidate foreign ufrag'
  /** A well-formed host candidate, for calls made before any remote description. */
  | 'addCandidate synthetic'
  | 'addCandidate null'
  | 'addCandidate undefined'
  /** createOffer(), then close() before it can settle. */
  | 'createOffer then close'
  | 'close';
/** `settle` waits for events and records the negotiationneeded events since the previous one. */
type Step = `${Side} ${Action}` | 'settle';

interface Observation {
  readonly step: string;
  /**
   * `ok`, the rejection's error name, `throw:<name>` for a synchronous throw,
   * `pending`, or `skipped` when an earlier failure left nothing to use.
   */
  readonly result?: string;
  readonly A: string;
  readonly B: string;
  /**
   * m-sections (`kind:mid`) of a created description, and its ICE credentials
   * next to the connection's current local description: `first`, `kept` or
   * `restarted` (`no ICE` without m-sections). Compared this way because JSEP
   * leaves open whether credentials of a rolled-back offer are reused.
   */
  readonly created?: string;
  /** negotiationneeded events per side since the previous settle, each as the signaling state it fired in. */
  readonly needed?: string;
}

interface Flavour {
  readonly make: () => ScriptedPeer;
  /** How long a settle step waits for events. */
  readonly settleMs: number;
  /** A step not settled after this long is recorded as `pending`. */
  readonly pendingAfterMs: number;
}

/** Thrown by a step whose input an earlier failure never produced. */
class NothingToUse extends Error {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string') {
    return error.name;
  }
  return `non-error ${typeof error}`;
}

/** `kind:mid` of every m-section, then the first ICE username fragment; for synthetic and real SDP alike. */
function summarize(sdp: string): { sections: string[]; ufrag: string | undefined } {
  const sections = sdp
    .split(/\r?\nm=/)
    .slice(1)
    .map((section) => `${section.split(' ')[0]}:${/\na=mid:(\S+)/.exec(section)?.[1] ?? '?'}`);
  return { sections, ufrag: /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] };
}

/** The gathered candidate of an `icecandidate` event as plain data; end-of-candidates gives nothing. */
function gatheredCandidate(event: unknown): IceCandidate | null {
  const candidate: unknown =
    typeof event === 'object' && event !== null && 'candidate' in event ? event.candidate : null;
  if (typeof candidate !== 'object' || candidate === null || !('candidate' in candidate)) return null;
  const { candidate: text, sdpMid, sdpMLineIndex, usernameFragment } = candidate as Record<string, unknown>;
  if (typeof text !== 'string' || text === '') return null;
  return {
    candidate: text,
    sdpMid: typeof sdpMid === 'string' ? sdpMid : null,
    sdpMLineIndex: typeof sdpMLineIndex === 'number' ? sdpMLineIndex : null,
    usernameFragment: typeof usernameFragment === 'string' ? usernameFragment : null,
  };
}

function candidateUfrag(candidate: IceCandidate): string | undefined {
  return candidate.usernameFragment ?? /\sufrag (\S+)/.exec(candidate.candidate)?.[1];
}

/** Runs `steps` on a fresh pair and returns the trace; always closes both connections. */
async function runScript(flavour: Flavour, steps: readonly Step[]): Promise<Observation[]> {
  const peers: Record<Side, ScriptedPeer> = { A: flavour.make(), B: flavour.make() };
  const track = (pc: ScriptedPeer) => {
    const tracked = {
      lastOffer: null as { type: 'offer'; sdp: string } | null,
      lastAnswer: null as { type: 'answer'; sdp: string } | null,
      gathered: [] as IceCandidate[],
      needed: [] as string[],
      signaling: [] as string[],
    };
    pc.addEventListener('negotiationneeded', () => tracked.needed.push(pc.signalingState));
    pc.addEventListener('signalingstatechange', () => tracked.signaling.push(pc.signalingState));
    pc.addEventListener('icecandidate', (event: unknown) => {
      const candidate = gatheredCandidate(event);
      if (candidate) tracked.gathered.push(candidate);
    });
    return tracked;
  };
  const tracked = { A: track(peers.A), B: track(peers.B) };
  const states = () => ({ A: peers.A.signalingState, B: peers.B.signalingState });

  const perform = (side: Side, action: Action): { call: () => unknown; created: () => string } => {
    const pc = peers[side];
    const mine = tracked[side];
    const theirs = tracked[side === 'A' ? 'B' : 'A'];
    const their = peers[side === 'A' ? 'B' : 'A'];
    let created = '';
    const remember = (type: 'offer' | 'answer') => (description: { sdp?: string }) => {
      const sdp = description.sdp ?? '';
      if (type === 'offer') mine.lastOffer = { type, sdp };
      else mine.lastAnswer = { type, sdp };
      const { sections, ufrag } = summarize(sdp);
      const current = summarize(pc.currentLocalDescription?.sdp ?? '').ufrag;
      const ice =
        ufrag === undefined ? 'no ICE' : current === undefined ? 'first' : ufrag === current ? 'kept' : 'restarted';
      created = `${sections.join(' ')} (${ice})`;
    };
    const need = <T>(value: T | null): T => {
      if (value === null) throw new NothingToUse(`${side} ${action}`);
      return value;
    };
    const gathered = () => {
      const ufrag = summarize(their.localDescription?.sdp ?? '').ufrag;
      return need(theirs.gathered.find((candidate) => candidateUfrag(candidate) === ufrag) ?? null);
    };
    const calls: Record<Action, () => unknown> = {
      dataChannel: () => pc.createDataChannel('chat'),
      audio: () => pc.addTransceiver('audio'),
      video: () => pc.addTransceiver('video'),
      restartIce: () => pc.restartIce(),
      createOffer: () => pc.createOffer().then(remember('offer')),
      'createOffer iceRestart': () => pc.createOffer({ iceRestart: true }).then(remember('offer')),
      createAnswer: () => pc.createAnswer().then(remember('answer')),
      'setLocal offer': () => pc.setLocalDescription(need(mine.lastOffer)),
      'setLocal answer': () => pc.setLocalDescription(need(mine.lastAnswer)),
      'setLocal rollback': () => pc.setLocalDescription({ type: 'rollback' }),
      'setLocal nothing': () => pc.setLocalDescription(),
      'setLocal munged offer': () =>
        pc.setLocalDescription({ type: 'offer', sdp: need(mine.lastOffer).sdp.replace('\ns=-', '\ns=munged') }),
      'setLocal offer as answer': () => pc.setLocalDescription({ type: 'answer', sdp: need(mine.lastOffer).sdp }),
      'setRemote offer': () => pc.setRemoteDescription(need(theirs.lastOffer)),
      'setRemote answer': () => pc.setRemoteDescription(need(theirs.lastAnswer)),
      'addCandidate gathered': () => pc.addIceCandidate(gathered()),
      'addCandidate foreign ufrag': () => {
        const candidate = gathered();
        const ufrag = candidateUfrag(candidate) ?? '';
        return pc.addIceCandidate({
          ...candidate,
          candidate: candidate.candidate.replace(` ufrag ${ufrag}`, ' ufrag nobody'),
          usernameFragment: 'nobody',
        });
      },
      'addCandidate synthetic': () =>
        pc.addIceCandidate({
          candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 9 typ host',
          sdpMid: '0',
          sdpMLineIndex: 0,
        }),
      'addCandidate null': () => pc.addIceCandidate(null),
      'addCandidate undefined': () => pc.addIceCandidate(),
      'createOffer then close': () => {
        const offer = pc.createOffer();
        pc.close();
        return offer;
      },
      close: () => pc.close(),
    };
    return { call: calls[action], created: () => created };
  };

  const attempt = async (call: () => unknown): Promise<string> => {
    let returned: unknown;
    try {
      returned = call();
    } catch (error) {
      return error instanceof NothingToUse ? 'skipped' : `throw:${errorName(error)}`;
    }
    if (!(returned instanceof Promise)) return 'ok';
    const outcome = returned.then(
      () => 'ok',
      (error: unknown) => errorName(error),
    );
    return Promise.race([outcome, sleep(flavour.pendingAfterMs).then(() => 'pending')]);
  };

  const trace: Observation[] = [];
  try {
    for (const step of steps) {
      if (step === 'settle') {
        await sleep(flavour.settleMs);
        trace.push({ step, ...states(), needed: `A[${tracked.A.needed.join()}] B[${tracked.B.needed.join()}]` });
        tracked.A.needed = [];
        tracked.B.needed = [];
        continue;
      }
      const [side, ...words] = step.split(' ') as [Side, ...string[]];
      const { call, created } = perform(side, words.join(' ') as Action);
      const result = await attempt(call);
      const description = created();
      trace.push({ step, result, ...states(), ...(description ? { created: description } : {}) });
    }
    await sleep(flavour.settleMs);
    // Before close(): both real stacks fire signalingstatechange for it (see divergences).
    trace.push({
      step: 'signalingstatechange events',
      A: tracked.A.signaling.join(' '),
      B: tracked.B.signaling.join(' '),
    });
    return trace;
  } finally {
    peers.A.close();
    peers.B.close();
  }
}

const plainExchange: Step[] = [
  'A createOffer',
  'A setLocal offer',
  'B setRemote offer',
  'B createAnswer',
  'B setLocal answer',
  'A setRemote answer',
];

const scenarios: Record<string, readonly Step[]> = {
  'plain offer/answer': ['A dataChannel', 'settle', ...plainExchange, 'settle'],

  'glare, the polite side rolling back explicitly': [
    'A dataChannel',
    'B audio',
    'settle',
    'A createOffer',
    'A setLocal offer',
    'B createOffer',
    'B setLocal offer',
    'B setLocal rollback',
    'B setRemote offer',
    'B createAnswer',
    'B setLocal answer',
    'A setRemote answer',
    // B's transceiver lost its mid in the rollback: negotiation is needed again, with a fresh mid.
    'settle',
    'B createOffer',
  ],

  'glare, the polite side rolling back implicitly': [
    'A dataChannel',
    'B audio',
    'settle',
    'A createOffer',
    'A setLocal offer',
    'B createOffer',
    'B setLocal offer',
    'B setRemote offer',
    'B createAnswer',
    'B setLocal answer',
    'A setRemote answer',
    'settle',
    'B createOffer',
  ],

  'setRemoteDescription(offer) in have-local-offer, then an explicit rollback': [
    'A audio',
    'B video',
    'settle',
    'A createOffer',
    'B createOffer',
    'B setLocal offer',
    'B setRemote offer',
    'B setLocal rollback',
    'B setRemote offer',
    'settle',
  ],

  'rollback in stable': ['A setLocal rollback', 'A audio', ...plainExchange, 'A setLocal rollback'],

  'createAnswer in stable': ['A createAnswer', 'A dataChannel', ...plainExchange, 'B createAnswer', 'A createAnswer'],

  'setRemoteDescription(answer) in stable': ['A dataChannel', ...plainExchange, 'A setRemote answer'],

  'setLocalDescription(answer) without a remote offer': [
    'A video',
    'A createOffer',
    'A setLocal offer',
    'B setRemote offer',
    'B createAnswer',
    'B setLocal rollback',
    // [[LastCreatedAnswer]] survives the rollback, so only the state is wrong here.
    'B setLocal answer',
    'B createOffer',
    'B setLocal offer as answer',
  ],

  'addIceCandidate before a remote description': [
    'A addCandidate synthetic',
    'A addCandidate null',
    'A addCandidate undefined',
    'A dataChannel',
    'A createOffer',
    'A setLocal offer',
    'B setRemote offer',
    'B addCandidate null',
  ],

  'trickled candidates and their ICE generation': [
    'A dataChannel',
    'settle',
    ...plainExchange,
    'settle',
    'B addCandidate gathered',
    'A addCandidate gathered',
    'B addCandidate null',
    'A addCandidate undefined',
    'B addCandidate foreign ufrag',
  ],

  'renegotiation: a data channel, then a transceiver added mid-negotiation': [
    'A dataChannel',
    'settle',
    'A createOffer',
    'A setLocal offer',
    // Not stable: negotiationneeded waits for the answer.
    'A audio',
    'settle',
    'B setRemote offer',
    'B createAnswer',
    'B setLocal answer',
    'A setRemote answer',
    'settle',
    ...plainExchange,
    'A dataChannel',
    'settle',
    'B video',
    'settle',
    'B createOffer',
    'B setLocal offer',
    'A setRemote offer',
    'A createAnswer',
    'A setLocal answer',
    'B setRemote answer',
    'settle',
  ],

  'ICE restart': [
    'A dataChannel',
    'settle',
    ...plainExchange,
    'settle',
    'A restartIce',
    'settle',
    ...plainExchange,
    'settle',
    'A createOffer iceRestart',
    'A setLocal offer',
    'B setRemote offer',
    'B createAnswer',
    'settle',
  ],

  // The event's task runs after the offer/answer that negotiated the change: nothing is left to announce.
  'negotiationneeded for a change negotiated before it fired': ['A dataChannel', ...plainExchange, 'settle'],

  'negotiationneeded after a rollback': [
    'B audio',
    'settle',
    'B createOffer',
    'B setLocal offer',
    'B setLocal rollback',
    'settle',
    'A dataChannel',
    'settle',
    'A createOffer',
    'B setRemote offer',
    'B setLocal rollback',
    'settle',
  ],

  'parameterless setLocalDescription()': ['A dataChannel', 'A setLocal nothing', 'settle'],

  'an offer other than the one created': ['A dataChannel', 'A createOffer', 'A setLocal munged offer'],

  'calls after close()': [
    'B dataChannel',
    'B createOffer then close',
    'A dataChannel',
    'A close',
    'A createOffer',
    'A setLocal rollback',
    'A addCandidate null',
    'A dataChannel',
    'A audio',
  ],
};

interface Divergence {
  /** The step (its index in the script, and the step itself as a check), or the final events entry. */
  readonly at: readonly [number, Step] | 'events';
  /** What the real stack records there instead of what the specification (and the model) says. */
  readonly real: Partial<Omit<Observation, 'step'>>;
}

type StackName = 'wrtc' | 'werift';

const closedEvents = { A: 'closed', B: 'closed' };

/**
 * Every way the real stacks depart from the specification in these scripts,
 * with the reason. Steps that only follow from an earlier departure say so.
 */
const divergences: Record<StackName, Record<string, readonly Divergence[]>> = {
  wrtc: {
    // The binding only implements libwebrtc's legacy OnRenegotiationNeeded
    // callback and dispatches every event it posts: nothing re-checks, when the
    // event's task runs, that the operations chain is empty and that something
    // still needs negotiating (update the negotiation-needed flag, steps 2.2 and
    // 2.4). So an event posted as a change was made fires even when the change
    // was negotiated meanwhile, or while an operation is in flight.
    'negotiationneeded for a change negotiated before it fired': [
      { at: [7, 'settle'], real: { needed: 'A[stable] B[]' } },
    ],
    // ... here the one posted when the rollback reached stable, while setRemoteDescription was in flight.
    'glare, the polite side rolling back explicitly': [
      { at: [12, 'settle'], real: { needed: 'A[] B[stable,stable]' } },
    ],
    'setRemoteDescription(offer) in have-local-offer, then an explicit rollback': [
      { at: [9, 'settle'], real: { needed: 'A[] B[stable]' } },
    ],
    // No [[LastCreatedAnswer]] check (setLocalDescription step 4.3): libwebrtc
    // only checks the state. The same goes for offers, below.
    'setLocalDescription(answer) without a remote offer': [
      { at: [8, 'B setLocal offer as answer'], real: { result: 'InvalidStateError' } },
    ],
    // No [[LastCreatedOffer]] check (step 4.2): a changed offer is applied.
    'an offer other than the one created': [
      { at: [2, 'A setLocal munged offer'], real: { result: 'ok', A: 'have-local-offer' } },
      { at: 'events', real: { A: 'have-local-offer' } },
    ],
    // addIceCandidate step 4.1 wants InvalidStateError with no remote
    // description: wrtc rejects a candidate with a plain Error ("Failed to set
    // ICE candidate.") and accepts end-of-candidates.
    'addIceCandidate before a remote description': [
      { at: [0, 'A addCandidate synthetic'], real: { result: 'Error' } },
      { at: [1, 'A addCandidate null'], real: { result: 'ok' } },
      { at: [2, 'A addCandidate undefined'], real: { result: 'ok' } },
    ],
    // Step 4.5: a usernameFragment of no applied remote ICE generation is an
    // OperationError; wrtc accepts it.
    'trickled candidates and their ICE generation': [
      { at: [13, 'B addCandidate foreign ufrag'], real: { result: 'ok' } },
    ],
    'calls after close()': [
      // An operation in flight at close() settles anyway (the spec leaves it pending for ever).
      { at: [1, 'B createOffer then close'], real: { result: 'ok' } },
      // Chaining after close must reject with InvalidStateError; this one never settles.
      { at: [6, 'A addCandidate null'], real: { result: 'pending' } },
      { at: [8, 'A audio'], real: { result: 'throw:Error' } },
      // close() fires signalingstatechange; the specification fires no event.
      { at: 'events', real: closedEvents },
    ],
  },
  werift: {
    // Rolling back does not reset the mid a transceiver got from the rolled-back
    // offer (set the session description, step 4.7.12.3): B's audio transceiver
    // keeps mid 0, which the data section then takes, so later offers leave it
    // out and it is never negotiated. After an explicit rollback not even
    // negotiationneeded fires again (step 4.7.14.3).
    'glare, the polite side rolling back explicitly': [
      { at: [12, 'settle'], real: { needed: 'A[] B[]' } },
      { at: [13, 'B createOffer'], real: { created: 'application:0 (kept)' } },
    ],
    'glare, the polite side rolling back implicitly': [
      { at: [12, 'B createOffer'], real: { created: 'application:0 (kept)' } },
    ],
    // No re-fire after rolling back a local offer whose change is still unnegotiated (step 4.7.14.3).
    // And a remote offer cannot be rolled back at all: werift only rolls back
    // local offers ("Cannot rollback local description in signaling state").
    'negotiationneeded after a rollback': [
      { at: [5, 'settle'], real: { needed: 'A[] B[]' } },
      { at: [10, 'B setLocal rollback'], real: { result: 'InvalidStateError', B: 'have-remote-offer' } },
      { at: [11, 'settle'], real: { B: 'have-remote-offer', needed: 'A[] B[]' } },
      { at: 'events', real: { B: 'have-local-offer stable have-remote-offer' } },
    ],
    'setRemoteDescription(offer) in have-local-offer, then an explicit rollback': [
      { at: [7, 'B setLocal rollback'], real: { result: 'InvalidStateError', B: 'have-remote-offer' } },
      { at: 'events', real: { B: 'have-local-offer stable have-remote-offer' } },
    ],
    'setLocalDescription(answer) without a remote offer': [
      { at: [5, 'B setLocal rollback'], real: { result: 'InvalidStateError', B: 'have-remote-offer' } },
      // Follows from the failed rollback: B is still answering, and does.
      { at: [6, 'B setLocal answer'], real: { result: 'ok' } },
      { at: [7, 'B createOffer'], real: { created: 'video:0 (kept)' } },
      // No [[LastCreatedAnswer]] check (setLocalDescription step 4.3), as in libwebrtc.
      { at: [8, 'B setLocal offer as answer'], real: { result: 'InvalidStateError' } },
    ],
    // createAnswer outside have-remote-offer rejects with a plain Error ("createAnswer failed").
    'createAnswer in stable': [
      { at: [0, 'A createAnswer'], real: { result: 'Error' } },
      { at: [8, 'B createAnswer'], real: { result: 'Error' } },
      { at: [9, 'A createAnswer'], real: { result: 'Error' } },
    ],
    // werift buffers candidates until a remote description arrives instead of
    // rejecting them (addIceCandidate step 4.1), end-of-candidates included.
    'addIceCandidate before a remote description': [
      { at: [0, 'A addCandidate synthetic'], real: { result: 'ok' } },
      { at: [1, 'A addCandidate null'], real: { result: 'ok' } },
      { at: [2, 'A addCandidate undefined'], real: { result: 'ok' } },
    ],
    // The answerer of an ICE restart fires negotiationneeded with nothing to negotiate.
    'ICE restart': [{ at: [17, 'settle'], real: { needed: 'A[] B[stable]' } }],
    'calls after close()': [
      // An operation in flight at close() settles anyway (the spec leaves it pending for ever).
      { at: [1, 'B createOffer then close'], real: { result: 'ok' } },
      // After close() createOffer still makes an offer, and createDataChannel / addTransceiver do not throw.
      { at: [4, 'A createOffer'], real: { result: 'ok', created: 'application:0 (first)' } },
      { at: [7, 'A dataChannel'], real: { result: 'ok' } },
      { at: [8, 'A audio'], real: { result: 'ok' } },
      // close() fires signalingstatechange; the specification fires no event.
      { at: 'events', real: closedEvents },
    ],
  },
};

const flavours: Record<StackName, { real: Flavour; model: Flavour }> = {
  wrtc: {
    real: {
      make: () => new wrtc.RTCPeerConnection({ iceServers: [] }) as unknown as ScriptedPeer,
      settleMs: 150,
      pendingAfterMs: 1000,
    },
    model: {
      make: () => new SimulatedPeerConnection({ implicitRollback: false, parameterlessSetLocalDescription: false }),
      settleMs: 20,
      pendingAfterMs: 200,
    },
  },
  werift: {
    real: {
      make: () => new WeriftPeerConnection({ iceServers: [] }) as unknown as ScriptedPeer,
      settleMs: 150,
      pendingAfterMs: 1000,
    },
    model: { make: () => new SimulatedPeerConnection(), settleMs: 20, pendingAfterMs: 200 },
  },
};

describe.each(Object.keys(flavours) as StackName[])('the model against %s', (stack) => {
  it.each(Object.entries(scenarios))('%s', async (name, steps) => {
    const model = await runScript(flavours[stack].model, steps);
    const real = await runScript(flavours[stack].real, steps);
    const recorded = divergences[stack][name] ?? [];
    for (const { at } of recorded) {
      if (at !== 'events') expect(steps[at[0]], `${stack} divergence for step ${at[0]}`).toBe(at[1]);
    }
    const expected = model.map((observation, index) => {
      const divergence = recorded.find(({ at }) =>
        index === steps.length ? at === 'events' : typeof at !== 'string' && at[0] === index,
      );
      if (!divergence) return observation;
      // A recorded divergence must still be one: the model has to disagree on every field it names.
      for (const [field, value] of Object.entries(divergence.real)) {
        expect(observation[field as keyof Observation], `${stack} ${name} #${index} ${field}`).not.toEqual(value);
      }
      return { ...observation, ...divergence.real };
    });
    expect(real).toEqual(expected);
  });
});
