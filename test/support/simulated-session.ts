/**
 * The JSEP half of the simulated peer connection (RFC 9429): its synthetic
 * SDP, the local m-sections behind it, and the descriptions with the
 * signaling-state transitions that applying them makes. It is synchronous;
 * `simulated-peer-connection.ts` adds the W3C surface (operations chain,
 * tasks, events, negotiation-needed, ICE gathering).
 *
 * The SDP is structured enough to carry what negotiation depends on (session
 * version, one ICE generation, the m-sections and their mids) and nothing
 * else; only the simulation has to understand it.
 */

export type SimulatedMediaKind = 'audio' | 'video' | 'application';

export interface SimulatedMediaSection {
  readonly kind: SimulatedMediaKind;
  readonly mid: string;
}

/** What a simulated description says, parsed. */
export interface SimulatedSession {
  readonly sessionId: string;
  /** The `o=` session version; every created description gets a higher one. */
  readonly version: number;
  /** One ICE generation per description (everything is bundled); none without m-sections, as in real SDP. */
  readonly iceUfrag: string | null;
  readonly sections: readonly SimulatedMediaSection[];
}

/** A DOMException-like error, named as the specification names it. */
export function webrtcError(name: string, message: string): DOMException {
  return new DOMException(message, name);
}

const MEDIA_FORMATS: Record<SimulatedMediaKind, string> = {
  audio: 'UDP/TLS/RTP/SAVPF 111',
  video: 'UDP/TLS/RTP/SAVPF 96',
  application: 'UDP/DTLS/SCTP webrtc-datachannel',
};

function isMediaKind(value: string): value is SimulatedMediaKind {
  return value === 'audio' || value === 'video' || value === 'application';
}

export function writeSimulatedSdp(session: SimulatedSession): string {
  const lines = ['v=0', `o=- ${session.sessionId} ${session.version} IN IP4 127.0.0.1`, 's=-', 't=0 0'];
  if (session.sections.length > 0) lines.push(`a=group:BUNDLE ${session.sections.map((s) => s.mid).join(' ')}`);
  if (session.sections.length > 0 && session.iceUfrag !== null) {
    lines.push(`a=ice-ufrag:${session.iceUfrag}`, `a=ice-pwd:${session.iceUfrag}-simulated-password`);
  }
  for (const section of session.sections) {
    lines.push(`m=${section.kind} 9 ${MEDIA_FORMATS[section.kind]}`, 'c=IN IP4 0.0.0.0', `a=mid:${section.mid}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * Parses what {@link writeSimulatedSdp} wrote. Anything else is refused as
 * the specification refuses unparsable SDP: an `OperationError`
 * (an RTCError with errorDetail "sdp-syntax-error").
 */
export function parseSimulatedSdp(sdp: string): SimulatedSession {
  const lines = sdp.split(/\r?\n/).filter((line) => line !== '');
  const syntaxError = (what: string) => webrtcError('OperationError', `SDP parse error: ${what}`);
  if (lines[0] !== 'v=0') throw syntaxError('Expect line: v=');
  const origin = /^o=- (\S+) (\d+) IN IP4 \S+$/.exec(lines.find((line) => line.startsWith('o=')) ?? '');
  if (!origin?.[1] || !origin[2]) throw syntaxError('Expect line: o=');
  let iceUfrag: string | undefined;
  const sections: SimulatedMediaSection[] = [];
  let pendingKind: SimulatedMediaKind | undefined;
  for (const line of lines) {
    const media = /^m=(\S+) /.exec(line);
    if (media?.[1] !== undefined) {
      if (pendingKind) throw syntaxError(`m=${pendingKind} without a=mid`);
      if (!isMediaKind(media[1])) throw syntaxError(`unknown media ${media[1]}`);
      pendingKind = media[1];
    } else if (line.startsWith('a=mid:')) {
      if (!pendingKind) throw syntaxError('a=mid outside an m-section');
      sections.push({ kind: pendingKind, mid: line.slice('a=mid:'.length) });
      pendingKind = undefined;
    } else if (line.startsWith('a=ice-ufrag:')) {
      if (iceUfrag !== undefined) throw syntaxError('more than one a=ice-ufrag');
      iceUfrag = line.slice('a=ice-ufrag:'.length);
    }
  }
  if (pendingKind) throw syntaxError(`m=${pendingKind} without a=mid`);
  if (iceUfrag === undefined && sections.length > 0) throw syntaxError('Expect line: a=ice-ufrag');
  return { sessionId: origin[1], version: Number(origin[2]), iceUfrag: iceUfrag ?? null, sections };
}

/** A synthetic host candidate in the candidate-attribute grammar, tagged with its ICE generation. */
export function hostCandidate(ufrag: string, port: number): string {
  return `candidate:1 1 udp 2122260223 127.0.0.1 ${port} typ host generation 0 ufrag ${ufrag}`;
}

/** The `ufrag` extension of a candidate attribute (libwebrtc and werift write one too), if any. */
export function candidateUfrag(candidate: string): string | null {
  return /(?:^|\s)ufrag (\S+)/.exec(candidate)?.[1] ?? null;
}

/** A local m-section's owner: a transceiver, or the SCTP association for data channels. */
export interface MediaOwner {
  readonly kind: SimulatedMediaKind;
  mid: string | null;
  /** Created by applying a remote offer (removed again if that offer is rolled back). */
  readonly fromRemote: boolean;
}

export interface SimulatedTransceiver {
  readonly kind: 'audio' | 'video';
  /** Set once a description that carries it is applied; reset by rolling that description back. */
  readonly mid: string | null;
}

/** Owners and their mids in the last stable state (webrtc-pc "set the description" step 4.7.4). */
export type StableMediaState = ReadonlyMap<MediaOwner, string | null>;

/**
 * The connection's m-section owners, in the order they were added, and how
 * JSEP maps them to and from m-sections.
 */
export class LocalMedia {
  readonly #transceivers: Array<MediaOwner & SimulatedTransceiver> = [];
  #data: MediaOwner | null = null;
  #dataChannels = 0;

  get transceivers(): readonly SimulatedTransceiver[] {
    return this.#transceivers;
  }

  addTransceiver(kind: 'audio' | 'video'): SimulatedTransceiver {
    const transceiver = { kind, mid: null, fromRemote: false };
    this.#transceivers.push(transceiver);
    return transceiver;
  }

  /** Returns whether this is the first channel, the only one that can need negotiation. */
  addDataChannel(): boolean {
    this.#dataChannels += 1;
    if (!this.#data) this.#data = { kind: 'application', mid: null, fromRemote: false };
    return this.#dataChannels === 1;
  }

  /**
   * The transceiver and data parts of "check if negotiation is needed": a
   * created data channel with no application m-section in the current local
   * description, or a transceiver not associated with one of its m-sections.
   */
  needsNegotiation(currentLocal: SimulatedSession | undefined): boolean {
    const sections = currentLocal?.sections ?? [];
    if (this.#dataChannels > 0 && !sections.some((s) => s.kind === 'application')) return true;
    return this.#transceivers.some((t) => t.mid === null || !sections.some((s) => s.mid === t.mid));
  }

  /**
   * JSEP 5.2.2: m-sections of the current local description keep their
   * order; sections associated since follow; new ones come last, media in the
   * order added and then the data section (where libwebrtc and werift put it),
   * each with the lowest mid no description or owner uses.
   */
  offerSections(currentLocal: SimulatedSession | undefined, usedMids: Iterable<string>): SimulatedMediaSection[] {
    const sections = [...(currentLocal?.sections ?? [])];
    const used = new Set([...usedMids, ...sections.map((s) => s.mid)]);
    for (const owner of this.#owners()) {
      if (owner.mid !== null && !sections.some((s) => s.mid === owner.mid)) {
        sections.push({ kind: owner.kind, mid: owner.mid });
      }
      if (owner.mid !== null) used.add(owner.mid);
    }
    let next = 0;
    for (const owner of this.#owners()) {
      if (owner.mid !== null) continue;
      while (used.has(String(next))) next += 1;
      used.add(String(next));
      sections.push({ kind: owner.kind, mid: String(next) });
    }
    return sections;
  }

  /** Applying a local offer gives each m-section's owner its mid (JSEP 5.9). */
  associateLocalOffer(offer: SimulatedSession): void {
    for (const section of offer.sections) {
      const owner = this.#ownerOf(section.mid) ?? this.#unassociated(section.kind);
      if (owner) owner.mid = section.mid;
    }
  }

  /** Refuses a remote offer that gives a negotiated mid another kind. */
  checkRemoteOffer(offer: SimulatedSession): void {
    for (const section of offer.sections) {
      const owner = this.#ownerOf(section.mid);
      const movedData = section.kind === 'application' && this.#data?.mid != null && this.#data.mid !== section.mid;
      if ((owner && owner.kind !== section.kind) || movedData) {
        throw webrtcError('InvalidAccessError', `m-section ${section.mid} does not match the one negotiated before`);
      }
    }
  }

  /**
   * JSEP 5.10: an m-section no owner has yet gets a new transceiver (only
   * addTrack transceivers would be reused, and there is no addTrack here);
   * an application m-section becomes the data section.
   */
  applyRemoteOffer(offer: SimulatedSession): void {
    for (const section of offer.sections) {
      if (this.#ownerOf(section.mid)) continue;
      if (section.kind !== 'application') {
        this.#transceivers.push({ kind: section.kind, mid: section.mid, fromRemote: true });
      } else if (this.#data) {
        this.#data.mid = section.mid;
      } else {
        this.#data = { kind: 'application', mid: section.mid, fromRemote: true };
      }
    }
  }

  snapshot(): StableMediaState {
    return new Map(this.#owners().map((owner) => [owner, owner.mid]));
  }

  /**
   * Step 4.7.12.3: owners get their last stable mids back; those a remote
   * offer created go away, and those added since are unassociated again.
   */
  rollBack(stable: StableMediaState): void {
    const restore = (owner: MediaOwner): boolean => {
      if (stable.has(owner)) owner.mid = stable.get(owner) ?? null;
      else if (owner.fromRemote) return false;
      else owner.mid = null;
      return true;
    };
    const kept = this.#transceivers.filter(restore);
    this.#transceivers.splice(0, this.#transceivers.length, ...kept);
    if (this.#data && !restore(this.#data)) {
      // A channel created meanwhile still needs the m-section the remote offer brought.
      this.#data = this.#dataChannels > 0 ? { kind: 'application', mid: null, fromRemote: false } : null;
    }
  }

  #owners(): MediaOwner[] {
    return this.#data ? [...this.#transceivers, this.#data] : [...this.#transceivers];
  }

  #ownerOf(mid: string): MediaOwner | undefined {
    return this.#owners().find((owner) => owner.mid === mid);
  }

  #unassociated(kind: SimulatedMediaKind): MediaOwner | undefined {
    return this.#owners().find((owner) => owner.mid === null && owner.kind === kind);
  }
}

export type JsepSignalingState = 'stable' | 'have-local-offer' | 'have-remote-offer';
export type DescriptionType = 'offer' | 'answer' | 'rollback';
export type Side = 'local' | 'remote';

export interface AppliedDescription {
  readonly type: 'offer' | 'answer';
  readonly sdp: string;
  readonly session: SimulatedSession;
}

/** JSEP 5.5 / 5.6: the signaling states in which each description may be applied. */
const APPLICABLE_IN: Record<Side, Record<'offer' | 'answer', readonly JsepSignalingState[]>> = {
  local: { offer: ['stable', 'have-local-offer'], answer: ['have-remote-offer'] },
  remote: { offer: ['stable', 'have-remote-offer'], answer: ['have-local-offer'] },
};

const sectionList = (session: SimulatedSession | undefined) =>
  session?.sections.map((s) => `${s.kind}:${s.mid}`).join() ?? '';

/** One connection's descriptions, [[LastCreated*]] slots and ICE credentials. */
export class JsepSession {
  signalingState: JsepSignalingState = 'stable';
  pendingLocal: AppliedDescription | null = null;
  currentLocal: AppliedDescription | null = null;
  pendingRemote: AppliedDescription | null = null;
  currentRemote: AppliedDescription | null = null;
  lastCreatedOffer = '';
  lastCreatedAnswer = '';
  readonly media = new LocalMedia();
  readonly #id: string;
  #sessionVersion = 0;
  /** Bumped by every change an offer describes, so a parameterless SLD can tell a stale [[LastCreatedOffer]]. */
  #contentVersion = 0;
  #lastCreatedOfferContentVersion = -1;
  #localIceCredentialsToReplace = new Set<string>();
  #ufragsMade = 0;
  readonly #initialUfrag: string;
  /** What a rollback returns to, remembered when an offer leaves stable (step 4.7.4). */
  #lastStableState: StableMediaState | null = null;

  constructor(id: string) {
    this.#id = id;
    this.#initialUfrag = this.#freshUfrag();
  }

  get localDescription(): AppliedDescription | null {
    return this.pendingLocal ?? this.currentLocal;
  }

  get remoteDescription(): AppliedDescription | null {
    return this.pendingRemote ?? this.currentRemote;
  }

  /** [[LastCreatedOffer]] still describes this connection (setLocalDescription step 4.4.2). */
  get lastCreatedOfferIsCurrent(): boolean {
    return this.lastCreatedOffer !== '' && this.#lastCreatedOfferContentVersion === this.#contentVersion;
  }

  /** Something an offer describes changed (a transceiver, the first data channel, an ICE restart). */
  contentChanged(): void {
    this.#contentVersion += 1;
  }

  /** restartIce(): every credential now in use is to be replaced by the next offer. */
  restartIce(): void {
    const inUse = [this.currentLocal, this.pendingLocal].flatMap((d) => d?.session.iceUfrag ?? []);
    this.#localIceCredentialsToReplace = new Set(inUse);
    this.contentChanged();
  }

  /** "Check if negotiation is needed" (webrtc-pc), whatever the signaling state. */
  needsNegotiation(): boolean {
    return this.#localIceCredentialsToReplace.size > 0 || this.media.needsNegotiation(this.currentLocal?.session);
  }

  createOffer(iceRestart: boolean): string {
    const descriptions = [this.pendingLocal, this.currentLocal, this.pendingRemote, this.currentRemote];
    const used = descriptions.flatMap((d) => d?.session.sections.map((s) => s.mid) ?? []);
    const sdp = this.#write(this.#offerUfrag(iceRestart), this.media.offerSections(this.currentLocal?.session, used));
    this.lastCreatedOffer = sdp;
    this.#lastCreatedOfferContentVersion = this.#contentVersion;
    return sdp;
  }

  /** JSEP 5.3.1: an answer mirrors the offer's m-sections and restarts ICE exactly when the offer does. */
  createAnswer(): string {
    const offer = this.pendingRemote;
    if (this.signalingState !== 'have-remote-offer' || !offer) {
      throw webrtcError(
        'InvalidStateError',
        `Cannot create an answer in signaling state ${this.signalingState}, only in have-remote-offer`,
      );
    }
    const previousRemoteUfrag = this.currentRemote?.session.iceUfrag ?? null;
    const restart = previousRemoteUfrag !== null && previousRemoteUfrag !== offer.session.iceUfrag;
    const ufrag = restart ? this.#freshUfrag() : (this.currentLocal?.session.iceUfrag ?? this.#initialUfrag);
    const sdp = this.#write(ufrag, offer.session.sections);
    this.lastCreatedAnswer = sdp;
    return sdp;
  }

  /**
   * "Set the RTCSessionDescription", the part that checks and applies it
   * (step 4.7 up to the signaling state). Throws, changing nothing, when the
   * description cannot be applied in the current state.
   */
  apply(type: DescriptionType, sdp: string, side: Side): void {
    const state = this.signalingState;
    if (type === 'rollback') {
      if (state === 'stable') throw webrtcError('InvalidStateError', `Called in wrong signalingState: ${state}`);
      this.media.rollBack(this.#lastStableState ?? new Map());
      this.#toStable();
      return;
    }
    // Steps 4.6.x: a description of the wrong type for the state is refused before its SDP is read.
    if (!APPLICABLE_IN[side][type].includes(state)) {
      throw webrtcError('InvalidStateError', `Failed to set ${side} ${type} sdp: Called in wrong state: ${state}`);
    }
    const description: AppliedDescription = { type, sdp, session: parseSimulatedSdp(sdp) };
    if (type === 'answer') {
      const offer = side === 'local' ? this.pendingRemote : this.pendingLocal;
      if (sectionList(description.session) !== sectionList(offer?.session)) {
        throw webrtcError('InvalidAccessError', 'The answer does not carry the m-sections of the offer');
      }
      this.#applyAnswer(description, side);
      return;
    }
    if (side === 'remote') this.media.checkRemoteOffer(description.session);
    if (state === 'stable') this.#lastStableState = this.media.snapshot();
    if (side === 'local') {
      this.pendingLocal = description;
      this.signalingState = 'have-local-offer';
      this.media.associateLocalOffer(description.session);
    } else {
      this.pendingRemote = description;
      this.signalingState = 'have-remote-offer';
      this.media.applyRemoteOffer(description.session);
    }
  }

  /** Steps 4.7.5.2 / 4.7.6.2: an answer completes the exchange. */
  #applyAnswer(answer: AppliedDescription, side: Side): void {
    if (side === 'local') {
      this.currentLocal = answer;
      this.currentRemote = this.pendingRemote;
    } else {
      this.currentRemote = answer;
      this.currentLocal = this.pendingLocal;
    }
    this.lastCreatedOffer = '';
    this.lastCreatedAnswer = '';
    this.#toStable();
    // ... and ends an ICE restart once the local description no longer has a credential to replace.
    const ufrag = this.currentLocal?.session.iceUfrag ?? null;
    if (ufrag === null || !this.#localIceCredentialsToReplace.has(ufrag)) {
      this.#localIceCredentialsToReplace.clear();
    }
  }

  #toStable(): void {
    this.pendingLocal = null;
    this.pendingRemote = null;
    this.#lastStableState = null;
    this.signalingState = 'stable';
  }

  /** JSEP 5.2.1 / 5.2.3: credentials stay unless an ICE restart is asked for (option or restartIce()). */
  #offerUfrag(iceRestart: boolean): string {
    const inUse = this.pendingLocal?.session.iceUfrag ?? this.currentLocal?.session.iceUfrag ?? null;
    if (inUse === null) return this.#initialUfrag;
    return iceRestart || this.#localIceCredentialsToReplace.has(inUse) ? this.#freshUfrag() : inUse;
  }

  #freshUfrag(): string {
    return `${this.#id}i${this.#ufragsMade++}`;
  }

  #write(iceUfrag: string, sections: readonly SimulatedMediaSection[]): string {
    this.#sessionVersion += 1;
    return writeSimulatedSdp({ sessionId: this.#id, version: this.#sessionVersion, iceUfrag, sections });
  }
}
