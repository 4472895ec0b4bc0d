/**
 * The scripts of the differential tests and the runner that records their
 * traces, shared by the Node stacks (simulated-vs-real.test.ts) and the
 * browsers (browsers.browser.test.ts, where this file is bundled into the
 * page and runs against the browser's own RTCPeerConnection). Nothing here
 * uses Node: timers and promises only.
 */
import type { IceCandidate } from '../../src/types.js';

/** What the scripts use of a peer connection; the model and both real stacks have it. */
export interface ScriptedPeer {
  readonly signalingState: string;
  readonly localDescription: { readonly type: string; readonly sdp: string } | null;
  readonly currentLocalDescription: { readonly type: string; readonly sdp: string } | null;
  createOffer(options?: { iceRestart?: boolean }): Promise<{ type: string; sdp?: string }>;
  createAnswer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(description?: { type: 'offer' | 'answer' | 'rollback'; sdp?: string }): Promise<unknown>;
  setRemoteDescription(description: { type: 'offer' | 'answer'; sdp: string } | { type: 'rollback' }): Promise<unknown>;
  addIceCandidate(candidate?: IceCandidate | null): Promise<unknown>;
  createDataChannel(label: string): unknown;
  addTransceiver(kind: 'audio' | 'video'): unknown;
  restartIce(): void;
  close(): void;
  addEventListener(type: string, listener: (event: unknown) => void): void;
}

export type Side = 'A' | 'B';
export type Action =
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
  /** setRemoteDescription({ type: 'rollback' }). */
  | 'setRemote rollback'
  /** A candidate the other side gathered for its current ICE generation. */
  | 'addCandidate gathered'
  /** The same, relabelled with an ICE username fragment nobody uses. */
  | 'addCandidate foreign ufrag'
  /** A well-formed host candidate, for calls made before any remote description. */
  | 'addCandidate synthetic'
  /** End-of-candidates written as Firefox sends it: an empty candidate with the gathered one's mid and ufrag. */
  | 'addCandidate empty'
  | 'addCandidate null'
  | 'addCandidate undefined'
  /** createOffer(), then close() before it can settle. */
  | 'createOffer then close'
  | 'close';
/** `settle` waits for events and records the negotiationneeded events since the previous one. */
export type Step = `${Side} ${Action}` | 'settle';

export interface Observation {
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

export interface Flavour {
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
export async function runScript(flavour: Flavour, steps: readonly Step[]): Promise<Observation[]> {
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
      'setRemote rollback': () => pc.setRemoteDescription({ type: 'rollback' }),
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
      'addCandidate empty': () => pc.addIceCandidate({ ...gathered(), candidate: '' }),
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

export const scenarios: Record<string, readonly Step[]> = {
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

  // How a polite side that failed to answer gets back to stable (the machine's `recovering`).
  'a remote offer rolled back, locally then remotely': [
    'A audio',
    'settle',
    'A createOffer',
    'A setLocal offer',
    'B setRemote offer',
    'B setLocal rollback',
    'B setRemote rollback',
    'settle',
    'B setRemote offer',
    'B createAnswer',
    'B setLocal answer',
    'A setRemote answer',
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

  // Firefox ends each generation's candidates with an empty one (then null); every stack must take it.
  'end-of-candidates as an empty candidate': [
    'A dataChannel',
    'settle',
    ...plainExchange,
    'settle',
    'B addCandidate gathered',
    'B addCandidate empty',
    'A addCandidate empty',
    'A addCandidate gathered',
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
