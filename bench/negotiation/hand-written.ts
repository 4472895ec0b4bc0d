/**
 * Perfect negotiation written by hand, after the example in the W3C WebRTC
 * specification (section 10.7), for the benchmark to hold the machine
 * against. It is made portable the way the machine is: offers and answers
 * are created explicitly and passed to `setLocalDescription(description)`,
 * and the polite peer rolls back explicitly before it accepts a colliding
 * offer, so it also runs on stacks without implicit rollback (`@roamhq/wrtc`).
 *
 * Those explicit steps split what the specification does in one chained
 * operation into several, so remote signals are handled one at a time, in the
 * order they arrived: an offer is answered before the next signal is looked
 * at, which keeps every candidate behind the description it belongs to.
 * Answers and candidates are only chained on the connection, as in the
 * specification, so `isSettingRemoteAnswerPending` keeps its meaning.
 */
import type { OutgoingSignal } from '../../src/negotiation.js';
import { type PeerConnectionLike, toIceCandidate, toSessionDescription } from '../../src/peer-connection.js';
import { candidateFitsDescription } from '../../src/sdp.js';
import type { IceCandidate, SessionDescription } from '../../src/types.js';

export interface HandWrittenNegotiatorOptions {
  pc: PeerConnectionLike;
  polite: boolean;
  send: (signal: OutgoingSignal) => void;
  onError?: (error: unknown) => void;
}

export class HandWrittenNegotiator {
  readonly #pc: PeerConnectionLike;
  readonly #polite: boolean;
  readonly #send: (signal: OutgoingSignal) => void;
  readonly #onError: (error: unknown) => void;
  #makingOffer = false;
  #ignoreOffer = false;
  #isSettingRemoteAnswerPending = false;
  /** The offer being made, settled or not: a polite peer lets it finish before rolling it back. */
  #offering: Promise<void> = Promise.resolve();
  /** Remote signals, handled in arrival order. */
  #incoming: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: HandWrittenNegotiatorOptions) {
    this.#pc = options.pc;
    this.#polite = options.polite;
    this.#send = options.send;
    this.#onError = options.onError ?? (() => undefined);
    this.#pc.addEventListener('negotiationneeded', this.#onNegotiationNeeded);
    this.#pc.addEventListener('icecandidate', this.#onIceCandidate);
    this.#pc.addEventListener('iceconnectionstatechange', this.#onIceConnectionStateChange);
  }

  /** No offer being made and no answer being applied. */
  get settled(): boolean {
    return !this.#makingOffer && !this.#isSettingRemoteAnswerPending;
  }

  /** A description or candidate from the remote peer. */
  receive(signal: OutgoingSignal): void {
    this.#incoming = this.#incoming.then(() =>
      signal.type === 'description' ? this.#onDescription(signal.description) : this.#onCandidate(signal.candidate),
    );
  }

  /** Removes the listeners; the connection stays open and belongs to the caller. */
  close(): void {
    this.#closed = true;
    this.#pc.removeEventListener('negotiationneeded', this.#onNegotiationNeeded);
    this.#pc.removeEventListener('icecandidate', this.#onIceCandidate);
    this.#pc.removeEventListener('iceconnectionstatechange', this.#onIceConnectionStateChange);
  }

  readonly #onNegotiationNeeded = (): void => {
    this.#offering = this.#makeOffer();
  };

  readonly #onIceCandidate = (event: unknown): void => {
    if (!this.#closed) this.#send({ type: 'candidate', candidate: toIceCandidate(event) });
  };

  readonly #onIceConnectionStateChange = (): void => {
    if (this.#pc.iceConnectionState === 'failed') this.#pc.restartIce?.();
  };

  async #makeOffer(): Promise<void> {
    try {
      this.#makingOffer = true;
      const offer = toSessionDescription(await this.#pc.createOffer());
      await this.#pc.setLocalDescription(offer);
      if (!this.#closed) this.#send({ type: 'description', description: offer });
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#makingOffer = false;
    }
  }

  async #onDescription(description: SessionDescription): Promise<void> {
    const readyForOffer =
      !this.#makingOffer && (this.#pc.signalingState === 'stable' || this.#isSettingRemoteAnswerPending);
    const offerCollision = description.type === 'offer' && !readyForOffer;
    this.#ignoreOffer = !this.#polite && offerCollision;
    if (this.#ignoreOffer) return;

    if (description.type === 'answer') {
      this.#isSettingRemoteAnswerPending = true;
      this.#pc.setRemoteDescription(description).then(
        () => {
          this.#isSettingRemoteAnswerPending = false;
        },
        (error: unknown) => {
          this.#isSettingRemoteAnswerPending = false;
          this.#fail(error);
        },
      );
      return;
    }

    try {
      if (offerCollision) {
        await this.#offering;
        if (this.#pc.signalingState === 'have-local-offer') await this.#pc.setLocalDescription({ type: 'rollback' });
      }
      await this.#pc.setRemoteDescription(description);
      const answer = toSessionDescription(await this.#pc.createAnswer());
      await this.#pc.setLocalDescription(answer);
      if (!this.#closed) this.#send({ type: 'description', description: answer });
    } catch (error) {
      this.#fail(error);
    }
  }

  #onCandidate(candidate: IceCandidate | null): void {
    // Decided now, not when it fails, since a later description resets ignoreOffer.
    addRemoteCandidate(this.#pc, candidate, this.#ignoreOffer, (error) => this.#fail(error));
  }

  #fail(error: unknown): void {
    if (!this.#closed) this.#onError(error);
  }
}

/**
 * Adds a remote candidate; its failure is an error unless expected: a
 * candidate of an offer we ignored (`ignored`), or one trickled for a
 * description since rolled back or ICE-restarted, which the machine drops too.
 */
export function addRemoteCandidate(
  pc: PeerConnectionLike,
  candidate: IceCandidate | null,
  ignored: boolean,
  onError: (error: unknown) => void,
): void {
  const added = candidate === null ? pc.addIceCandidate() : pc.addIceCandidate(candidate);
  added.catch((error: unknown) => {
    const remote = pc.remoteDescription?.sdp;
    const superseded = candidate !== null && remote !== undefined && !candidateFitsDescription(candidate, remote);
    if (!ignored && !superseded) onError(error);
  });
}
