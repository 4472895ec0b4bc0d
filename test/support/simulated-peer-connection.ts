/**
 * A simulated RTCPeerConnection for fast property tests of negotiation races.
 *
 * It follows the W3C WebRTC specification (webrtc-pc) and JSEP (RFC 9429) in
 * what negotiation can observe: the signaling state machine, the operations
 * chain, [[LastCreatedOffer]] / [[LastCreatedAnswer]], rollback to the last
 * stable state, the negotiation-needed flag, ICE restarts and trickled
 * candidates. Media, transports and codecs are not simulated; the SDP is
 * synthetic. This file is the W3C surface; `simulated-session.ts` holds the
 * descriptions and m-sections.
 *
 * Every asynchronous completion (an operation's result, a queued event task)
 * goes through `options.schedule`, so a test can hand them to a fast-check
 * scheduler and explore interleavings. Reading state and adding content
 * (`createDataChannel`, `addTransceiver`, `restartIce`) are synchronous, as on
 * a real connection.
 */
import type { PeerConnectionLike } from '../../src/peer-connection.js';
import type { IceCandidate, IceConnectionState, PeerConnectionState } from '../../src/types.js';
import {
  type AppliedDescription,
  candidateUfrag,
  type DescriptionType,
  hostCandidate,
  JsepSession,
  type Side,
  type SimulatedTransceiver,
  webrtcError,
} from './simulated-session.js';

export type { SimulatedTransceiver } from './simulated-session.js';

export interface SimulatedPeerConnectionOptions {
  /** Prefixes the labels handed to `schedule`; defaults to `pc<n>`. */
  name?: string;
  /**
   * `setRemoteDescription(offer)` in have-local-offer rolls back first, as the
   * specification says (default). `false` refuses it with `InvalidStateError`
   * ("Called in wrong state"), as `@roamhq/wrtc` does.
   */
  implicitRollback?: boolean;
  /**
   * `setLocalDescription()` without a description (or without SDP) creates the
   * offer or answer itself, as the specification says (default). `false`
   * rejects a missing description with `TypeError('Expected an object')` and
   * reads a missing SDP as empty (unparsable), as `@roamhq/wrtc` does.
   */
  parameterlessSetLocalDescription?: boolean;
  /**
   * `setLocalDescription({ type: 'rollback' })` rolls back a remote offer too,
   * as the W3C specification lets it (default). `false` refuses it in
   * have-remote-offer with `InvalidStateError`, as Firefox does: there a
   * remote offer is rolled back with `setRemoteDescription({ type: 'rollback' })`.
   */
  localRollbackOfRemoteOffer?: boolean;
  /**
   * Delivers every asynchronous completion; defaults to `setTimeout(run, 0)`.
   * `label` names the step, e.g. `"answerer: setRemoteDescription"`.
   */
  schedule?: (label: string, run: () => void) => void;
}

export type SimulatedSignalingState = 'stable' | 'have-local-offer' | 'have-remote-offer' | 'closed';

export interface SimulatedDescription {
  readonly type: 'offer' | 'answer';
  readonly sdp: string;
}

/** An event the simulation fires; `candidate` only on `icecandidate` (`null` ends the generation). */
export interface SimulatedEvent {
  readonly type: string;
  readonly candidate?: IceCandidate | null;
}

export type SimulatedEventListener = (event: SimulatedEvent) => void;

export interface SimulatedDataChannel {
  readonly label: string;
}

const CONNECTION_STATE_FOR: Record<Exclude<IceConnectionState, 'closed'>, PeerConnectionState> = {
  new: 'new',
  checking: 'connecting',
  connected: 'connected',
  completed: 'connected',
  disconnected: 'disconnected',
  failed: 'failed',
};

let instances = 0;

const toDescription = (applied: AppliedDescription | null): SimulatedDescription | null =>
  applied && { type: applied.type, sdp: applied.sdp };

function isDescriptionType(value: unknown): value is DescriptionType {
  return value === 'offer' || value === 'answer' || value === 'rollback';
}

/**
 * @example
 * const offerer = new SimulatedPeerConnection({ name: 'offerer' });
 * const answerer = new SimulatedPeerConnection({ name: 'answerer' });
 * offerer.createDataChannel('chat');
 * const offer = await offerer.createOffer();
 * await offerer.setLocalDescription(offer);
 * await answerer.setRemoteDescription(offer);
 */
export class SimulatedPeerConnection implements PeerConnectionLike {
  readonly name: string;
  readonly #implicitRollback: boolean;
  readonly #parameterless: boolean;
  readonly #localRollbackOfRemoteOffer: boolean;
  readonly #schedule: (label: string, run: () => void) => void;
  readonly #instance = ++instances;
  readonly #jsep = new JsepSession(`s${this.#instance}`);
  #isClosed = false;
  #iceConnectionState: IceConnectionState = 'new';
  #connectionState: PeerConnectionState = 'new';
  /** [[Operations]]: each entry starts one chained operation; the first is running. */
  readonly #operations: Array<() => void> = [];
  #updateNegotiationNeededFlagOnEmptyChain = false;
  #negotiationNeeded = false;
  readonly #gatheredUfrags = new Set<string>();
  readonly #remoteCandidates: string[] = [];
  readonly #listeners = new Map<string, Set<(event: never) => void>>();

  constructor(options: SimulatedPeerConnectionOptions = {}) {
    this.name = options.name ?? `pc${this.#instance}`;
    this.#implicitRollback = options.implicitRollback ?? true;
    this.#parameterless = options.parameterlessSetLocalDescription ?? true;
    this.#localRollbackOfRemoteOffer = options.localRollbackOfRemoteOffer ?? true;
    this.#schedule = options.schedule ?? ((_, run) => setTimeout(run, 0));
  }

  get signalingState(): SimulatedSignalingState {
    return this.#isClosed ? 'closed' : this.#jsep.signalingState;
  }
  get iceConnectionState(): IceConnectionState {
    return this.#iceConnectionState;
  }
  get connectionState(): PeerConnectionState {
    return this.#connectionState;
  }
  get localDescription(): SimulatedDescription | null {
    return toDescription(this.#jsep.localDescription);
  }
  get remoteDescription(): SimulatedDescription | null {
    return toDescription(this.#jsep.remoteDescription);
  }
  get currentLocalDescription(): SimulatedDescription | null {
    return toDescription(this.#jsep.currentLocal);
  }
  get pendingLocalDescription(): SimulatedDescription | null {
    return toDescription(this.#jsep.pendingLocal);
  }
  get currentRemoteDescription(): SimulatedDescription | null {
    return toDescription(this.#jsep.currentRemote);
  }
  get pendingRemoteDescription(): SimulatedDescription | null {
    return toDescription(this.#jsep.pendingRemote);
  }

  createOffer(options?: { iceRestart?: boolean }): Promise<SimulatedDescription> {
    return this.#chain('createOffer', () => this.#createOffer(options?.iceRestart === true));
  }

  createAnswer(): Promise<SimulatedDescription> {
    return this.#chain('createAnswer', () => this.#createAnswer());
  }

  setLocalDescription(description?: { type?: DescriptionType; sdp?: string }): Promise<void> {
    if (description === undefined && !this.#parameterless) {
      return this.#rejectInTask('setLocalDescription', new TypeError('Expected an object'));
    }
    const requested: unknown = description?.type;
    if (requested !== undefined && !isDescriptionType(requested)) {
      return this.#rejectInTask('setLocalDescription', new TypeError(`Invalid RTCSdpType: ${String(requested)}`));
    }
    return this.#chain('setLocalDescription', async () => {
      // Step 4.1: without a type, the signaling state decides.
      const type = requested ?? (this.#jsep.signalingState === 'have-remote-offer' ? 'answer' : 'offer');
      if (type === 'rollback') {
        if (!this.#localRollbackOfRemoteOffer && this.#jsep.signalingState === 'have-remote-offer') {
          const error = webrtcError('InvalidStateError', 'Cannot rollback local description in have-remote-offer');
          return this.#rejectInTask('setLocalDescription', error);
        }
        return this.#applyInTask('setLocalDescription', 'rollback', '', 'local');
      }
      const sdp = description?.sdp ?? '';
      const lastCreated = type === 'offer' ? this.#jsep.lastCreatedOffer : this.#jsep.lastCreatedAnswer;
      if (sdp !== '' && sdp !== lastCreated) {
        // Steps 4.2-4.3: only the offer or answer created last may be applied.
        const error = webrtcError('InvalidModificationError', `The SDP does not match the last created ${type}`);
        return this.#rejectInTask('setLocalDescription', error);
      }
      if (sdp !== '' || !this.#parameterless) return this.#applyInTask('setLocalDescription', type, sdp, 'local');
      // Steps 4.4-4.5: reuse [[LastCreated*]] while it still describes the
      // connection, otherwise create the description first.
      let implicit = lastCreated;
      if (type === 'offer' && !this.#jsep.lastCreatedOfferIsCurrent) implicit = (await this.#createOffer(false)).sdp;
      if (type === 'answer' && implicit === '') implicit = (await this.#createAnswer()).sdp;
      return this.#applyInTask('setLocalDescription', type, implicit, 'local');
    });
  }

  setRemoteDescription(description: { type: DescriptionType; sdp?: string }): Promise<void> {
    const type: unknown = description?.type;
    if (!isDescriptionType(type)) {
      return this.#rejectInTask('setRemoteDescription', new TypeError(`Invalid RTCSdpType: ${String(type)}`));
    }
    return this.#chain('setRemoteDescription', async () => {
      if (type === 'offer' && this.#jsep.signalingState === 'have-local-offer') {
        if (!this.#implicitRollback) {
          const error = webrtcError('InvalidStateError', 'Failed to set remote offer sdp: Called in wrong state');
          return this.#rejectInTask('setRemoteDescription', error);
        }
        // An offer that glares with ours first rolls ours back, in a task of its own, then applies.
        await this.#applyInTask('rollback', 'rollback', '', 'local');
      }
      return this.#applyInTask('setRemoteDescription', type, description.sdp ?? '', 'remote');
    });
  }

  addIceCandidate(candidate?: IceCandidate | null): Promise<void> {
    const text = candidate?.candidate ?? '';
    if (text !== '' && candidate?.sdpMid == null && candidate?.sdpMLineIndex == null) {
      // Step 3, before anything is chained.
      return this.#rejectInTask('addIceCandidate', new TypeError('sdpMid and sdpMLineIndex are both null'));
    }
    return this.#chain('addIceCandidate', () =>
      this.#inTask('addIceCandidate', () => {
        const remote = this.#jsep.remoteDescription;
        if (!remote) throw webrtcError('InvalidStateError', 'The remote description is null');
        const sections = remote.session.sections;
        const mid = candidate?.sdpMid;
        const index = candidate?.sdpMLineIndex;
        if (mid != null ? !sections.some((s) => s.mid === mid) : index != null && index >= sections.length) {
          throw webrtcError('OperationError', `The candidate's m-section (${mid ?? index}) is not in the description`);
        }
        // Step 4.5: the candidate must belong to an applied remote ICE generation.
        const ufrag = candidate?.usernameFragment ?? candidateUfrag(text);
        const known = [this.#jsep.pendingRemote, this.#jsep.currentRemote].map((d) => d?.session.iceUfrag);
        if (ufrag !== null && !known.includes(ufrag)) {
          throw webrtcError('OperationError', `usernameFragment ${ufrag} matches no remote ICE generation`);
        }
        // An empty candidate only marks the end of candidates.
        if (text !== '') this.#remoteCandidates.push(text);
      }),
    );
  }

  createDataChannel(label: string): SimulatedDataChannel {
    this.#throwIfClosed('createDataChannel');
    // Only the first channel updates the negotiation-needed flag.
    if (this.#jsep.media.addDataChannel()) this.#contentChanged();
    return { label };
  }

  addTransceiver(kind: 'audio' | 'video'): SimulatedTransceiver {
    this.#throwIfClosed('addTransceiver');
    if (kind !== 'audio' && kind !== 'video') throw new TypeError(`Invalid media kind: ${String(kind)}`);
    const transceiver = this.#jsep.media.addTransceiver(kind);
    this.#contentChanged();
    return transceiver;
  }

  /**
   * A transceiver added without updating the negotiation-needed flag: a
   * change the connection does not announce, as no stack tried announces
   * `setCodecPreferences`. Only an offer asked for carries it.
   */
  addTransceiverUnannounced(kind: 'audio' | 'video'): SimulatedTransceiver {
    this.#throwIfClosed('addTransceiver');
    const transceiver = this.#jsep.media.addTransceiver(kind);
    this.#jsep.contentChanged();
    return transceiver;
  }

  getTransceivers(): readonly SimulatedTransceiver[] {
    return [...this.#jsep.media.transceivers];
  }

  restartIce(): void {
    this.#jsep.restartIce();
    this.#updateNegotiationNeededFlag();
  }

  close(): void {
    // No events fire, and chained operations never settle.
    this.#isClosed = true;
    this.#iceConnectionState = 'closed';
    this.#connectionState = 'closed';
  }

  addEventListener(type: string, listener: SimulatedEventListener): void;
  addEventListener(type: string, listener: (event: never) => void): void;
  addEventListener(type: string, listener: (event: never) => void): void {
    const listeners = this.#listeners.get(type) ?? new Set();
    listeners.add(listener);
    this.#listeners.set(type, listeners);
  }

  removeEventListener(type: string, listener: SimulatedEventListener): void;
  removeEventListener(type: string, listener: (event: never) => void): void;
  removeEventListener(type: string, listener: (event: never) => void): void {
    this.#listeners.get(type)?.delete(listener);
  }

  dispatchEvent(event: SimulatedEvent): boolean {
    for (const listener of [...(this.#listeners.get(event.type) ?? [])]) {
      try {
        (listener as SimulatedEventListener)(event);
      } catch (error) {
        // As in a browser: the error is reported and the other listeners still run.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    return true;
  }

  /** Listeners registered now, for one event type or in all. */
  listenerCount(type?: string): number {
    if (type !== undefined) return this.#listeners.get(type)?.size ?? 0;
    return [...this.#listeners.values()].reduce((count, listeners) => count + listeners.size, 0);
  }

  /**
   * Test hook: the ICE agent reaches `state`. In a scheduled task this sets
   * `iceConnectionState` and the `connectionState` it implies, and fires
   * `iceconnectionstatechange` / `connectionstatechange` for what changed.
   */
  simulateIceState(state: Exclude<IceConnectionState, 'closed'>): void {
    this.#schedule(`${this.name}: iceconnectionstatechange`, () => {
      if (this.#isClosed) return;
      if (this.#iceConnectionState !== state) {
        this.#iceConnectionState = state;
        this.dispatchEvent({ type: 'iceconnectionstatechange' });
      }
      if (this.#connectionState !== CONNECTION_STATE_FOR[state]) {
        this.#connectionState = CONNECTION_STATE_FOR[state];
        this.dispatchEvent({ type: 'connectionstatechange' });
      }
    });
  }

  /** Mids of the m-sections in `localDescription` (pending or current), application included. */
  localMids(): string[] {
    return this.#jsep.localDescription?.session.sections.map((s) => s.mid) ?? [];
  }

  /** Mids in both the current local and the current remote description. */
  negotiatedMids(): string[] {
    const remote = this.#jsep.currentRemote?.session.sections ?? [];
    const local = this.#jsep.currentLocal?.session.sections ?? [];
    return local.filter((s) => remote.some((r) => r.mid === s.mid)).map((s) => s.mid);
  }

  /** The ICE username fragment of the current local description. */
  get localIceUfrag(): string | null {
    return this.#jsep.currentLocal?.session.iceUfrag ?? null;
  }

  /** The ICE username fragment of the current remote description. */
  get remoteIceUfrag(): string | null {
    return this.#jsep.currentRemote?.session.iceUfrag ?? null;
  }

  /** Candidates `addIceCandidate` accepted, in order (end-of-candidates not included). */
  get remoteCandidates(): readonly string[] {
    return this.#remoteCandidates;
  }

  /** Operations chained and not yet settled (the first one is running). */
  get pendingOperations(): number {
    return this.#operations.length;
  }

  /**
   * The specification's "check if negotiation is needed", in any signaling
   * state: ICE credentials to replace, a data channel with no negotiated
   * m-section, or a transceiver missing from the current local description.
   */
  hasUnnegotiatedChanges(): boolean {
    return this.#jsep.needsNegotiation();
  }

  /** "Chain an operation": one at a time, the next starting once the caller has seen this one's result. */
  #chain<T>(label: string, operation: () => Promise<T>): Promise<T> {
    if (this.#isClosed) return this.#rejectInTask(label, this.#closedError(label));
    let settle: (outcome: { value: T } | { error: unknown }) => void = () => undefined;
    const result = new Promise<T>((resolve, reject) => {
      settle = (outcome) => ('value' in outcome ? resolve(outcome.value) : reject(outcome.error));
    });
    const finish = (outcome: { value: T } | { error: unknown }) => {
      if (this.#isClosed) return;
      settle(outcome);
      const advance = () => this.#advanceChain();
      result.then(advance, advance);
    };
    this.#operations.push(() => {
      operation().then(
        (value) => finish({ value }),
        (error: unknown) => finish({ error }),
      );
    });
    if (this.#operations.length === 1) this.#operations[0]?.();
    return result;
  }

  #advanceChain(): void {
    if (this.#isClosed) return;
    this.#operations.shift();
    const next = this.#operations[0];
    if (next) {
      next();
      return;
    }
    if (!this.#updateNegotiationNeededFlagOnEmptyChain) return;
    this.#updateNegotiationNeededFlagOnEmptyChain = false;
    this.#updateNegotiationNeededFlag();
  }

  /** The spec's "in parallel, then queue a task": `steps` run in a scheduled task, unless closed by then. */
  #inTask<T>(label: string, steps: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#schedule(`${this.name}: ${label}`, () => {
        if (this.#isClosed) return;
        try {
          resolve(steps());
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  #rejectInTask(label: string, error: unknown): Promise<never> {
    return new Promise<never>((_, reject) => this.#schedule(`${this.name}: ${label}`, () => reject(error)));
  }

  #closedError(what: string): DOMException {
    return webrtcError('InvalidStateError', `${what}: the RTCPeerConnection's signalingState is 'closed'`);
  }

  #throwIfClosed(what: string): void {
    if (this.#isClosed) throw this.#closedError(what);
  }

  #contentChanged(): void {
    this.#jsep.contentChanged();
    this.#updateNegotiationNeededFlag();
  }

  /** "Update the negotiation-needed flag". */
  #updateNegotiationNeededFlag(): void {
    // Step 1: not while operations are chained; #advanceChain calls back once the chain is empty.
    if (this.#operations.length > 0) {
      this.#updateNegotiationNeededFlagOnEmptyChain = true;
      return;
    }
    // Step 2: a queued task that checks everything again when it runs.
    this.#schedule(`${this.name}: negotiationneeded`, () => {
      if (this.#isClosed) return;
      if (this.#operations.length > 0) {
        this.#updateNegotiationNeededFlagOnEmptyChain = true;
        return;
      }
      // Step 2.3: not now; returning to stable clears the flag and updates it again.
      if (this.#jsep.signalingState !== 'stable') return;
      if (!this.#jsep.needsNegotiation()) {
        this.#negotiationNeeded = false;
        return;
      }
      if (this.#negotiationNeeded) return;
      this.#negotiationNeeded = true;
      this.dispatchEvent({ type: 'negotiationneeded' });
    });
  }

  #createOffer(iceRestart: boolean): Promise<SimulatedDescription> {
    return this.#inTask('createOffer', () => ({ type: 'offer' as const, sdp: this.#jsep.createOffer(iceRestart) }));
  }

  #createAnswer(): Promise<SimulatedDescription> {
    return this.#inTask('createAnswer', () => ({ type: 'answer' as const, sdp: this.#jsep.createAnswer() }));
  }

  /** "Set the RTCSessionDescription": applied in one task that then fires what changed. */
  #applyInTask(label: string, type: DescriptionType, sdp: string, side: Side): Promise<void> {
    return this.#inTask(label, () => {
      const before = this.#jsep.signalingState;
      const abandonedUfrag = type === 'rollback' ? (this.#jsep.pendingLocal?.session.iceUfrag ?? null) : null;
      this.#jsep.apply(type, sdp, side);
      // A rolled-back ICE generation is gathered again if a later description reuses it.
      if (abandonedUfrag !== null && abandonedUfrag !== this.localIceUfrag) {
        this.#gatheredUfrags.delete(abandonedUfrag);
      }
      // Step 4.7.14: back in stable, the flag is cleared and updated again,
      // which re-fires negotiationneeded for what is still unnegotiated.
      if (this.#jsep.signalingState === 'stable') {
        this.#negotiationNeeded = false;
        this.#updateNegotiationNeededFlag();
      }
      if (this.#jsep.signalingState !== before) this.dispatchEvent({ type: 'signalingstatechange' });
      if (side === 'local' && type !== 'rollback') this.#startGathering();
    });
  }

  /**
   * A local description with a new ICE generation starts gathering: one host
   * candidate, then end-of-candidates, each in a task of its own and surfaced
   * only while that generation is still a local one.
   */
  #startGathering(): void {
    const ufrag = this.#jsep.localDescription?.session.iceUfrag ?? null;
    const first = this.#jsep.localDescription?.session.sections[0];
    if (ufrag === null || !first || this.#gatheredUfrags.has(ufrag)) return;
    this.#gatheredUfrags.add(ufrag);
    const current = () =>
      !this.#isClosed && [this.#jsep.pendingLocal, this.#jsep.currentLocal].some((d) => d?.session.iceUfrag === ufrag);
    this.#schedule(`${this.name}: icecandidate`, () => {
      if (!current()) return;
      const candidate = hostCandidate(ufrag, 50000 + this.#instance);
      this.dispatchEvent({
        type: 'icecandidate',
        candidate: { candidate, sdpMid: first.mid, sdpMLineIndex: 0, usernameFragment: ufrag },
      });
      this.#schedule(`${this.name}: icecandidate`, () => {
        if (current()) this.dispatchEvent({ type: 'icecandidate', candidate: null });
      });
    });
  }
}
