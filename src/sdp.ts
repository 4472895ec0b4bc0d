/**
 * What negotiation needs to read in SDP: the ICE generation of a description
 * or a candidate, and whether a new offer would change anything.
 */
import type { IceCandidate } from './protocol/messages.js';

/** The first `a=ice-ufrag` of an SDP blob; a new one means ICE restarted. */
export function iceUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}

/** The ICE generation a candidate belongs to: its `usernameFragment`, else the `ufrag` in its attribute. */
function candidateUfrag(candidate: IceCandidate): string | undefined {
  return candidate.usernameFragment ?? /\bufrag (\S+)/.exec(candidate.candidate)?.[1];
}

/**
 * Whether a candidate can belong to `sdp`: same ICE generation and an
 * m-section it names. One that cannot was gathered for a description that
 * was ignored, rolled back or replaced by an ICE restart.
 */
export function candidateFitsDescription(candidate: IceCandidate, sdp: string): boolean {
  const ufrag = candidateUfrag(candidate);
  if (ufrag !== undefined && ufrag !== iceUfrag(sdp)) return false;
  if (candidate.sdpMid != null) {
    const mid = `a=mid:${candidate.sdpMid}`;
    return sdp.split('\n').some((line) => line.trim() === mid);
  }
  if (candidate.sdpMLineIndex != null) return candidate.sdpMLineIndex < mediaSectionCount(sdp);
  return true;
}

/** One m-section, reduced to what an offer can change. */
interface MediaSection {
  kind: string;
  proto: string;
  /** The m-line's format list: RTP payload types, or `webrtc-datachannel`. */
  formats: string[];
  /** Port 0 without `a=bundle-only`: a stopped transceiver or a refused section. */
  rejected: boolean;
  mid?: string;
  direction: string;
  /** Stream ids from `a=msid` (and from `a=ssrc:N msid:`, where a stack writes it there). */
  msids: Set<string>;
  ufrag: string | undefined;
  /** Per payload type: encoding (compared ignoring case, as RFC 4855 has it), `a=fmtp`, `a=rtcp-fb`. */
  rtpmap: Map<string, string>;
  fmtp: Map<string, string>;
  rtcpFb: Map<string, Set<string>>;
  /** Header extensions by URI: `id[/direction]` and any attributes. */
  extmap: Map<string, string>;
  sctpPort?: string;
  maxMessageSize?: string;
}

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const values = map.get(key);
  if (values) values.add(value);
  else map.set(key, new Set([value]));
}

/**
 * The m-sections of an SDP blob. Session-level `a=ice-ufrag` and direction
 * are the defaults of every section (JSEP puts them per section; the
 * simulated stack of the tests puts the ufrag at session level).
 */
function mediaSections(sdp: string): MediaSection[] {
  const sections: MediaSection[] = [];
  let sessionUfrag: string | undefined;
  let sessionDirection = 'sendrecv';
  let section: MediaSection | undefined;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line.startsWith('m=')) {
      const [kind = '', port = '', proto = '', ...formats] = line.slice(2).split(/\s+/);
      section = {
        kind,
        proto,
        formats,
        // Ports change with every gathering and are 9 or real by whim of the stack; only 0 means something.
        rejected: port === '0',
        direction: sessionDirection,
        msids: new Set(),
        ufrag: sessionUfrag,
        rtpmap: new Map(),
        fmtp: new Map(),
        rtcpFb: new Map(),
        extmap: new Map(),
      };
      sections.push(section);
      continue;
    }
    if (!line.startsWith('a=')) continue;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line.slice(2) : line.slice(2, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1);
    if (!section) {
      if (name === 'ice-ufrag') sessionUfrag = value;
      else if (DIRECTIONS.has(name)) sessionDirection = name;
      continue;
    }
    const [head = '', ...rest] = value.split(' ');
    const tail = rest.join(' ');
    switch (name) {
      case 'mid':
        section.mid = value;
        break;
      case 'ice-ufrag':
        section.ufrag = value;
        break;
      case 'bundle-only':
        // An offer may bundle a section it has not yet had accepted with port 0.
        section.rejected = false;
        break;
      case 'msid':
        section.msids.add(value);
        break;
      case 'ssrc':
        if (tail.startsWith('msid:')) section.msids.add(tail.slice('msid:'.length));
        break;
      case 'rtpmap':
        section.rtpmap.set(head, tail);
        break;
      case 'fmtp':
        // Parameter order carries no meaning; stacks differ in how they write it.
        section.fmtp.set(
          head,
          tail
            .split(';')
            .map((parameter) => parameter.trim())
            .filter((parameter) => parameter !== '')
            .sort()
            .join(';'),
        );
        break;
      case 'rtcp-fb':
        addTo(section.rtcpFb, head, tail);
        break;
      case 'extmap':
        section.extmap.set(rest[0] ?? '', [head, ...rest.slice(1)].join(' '));
        break;
      case 'sctp-port':
        section.sctpPort = value;
        break;
      case 'max-message-size':
        section.maxMessageSize = value;
        break;
      default:
        if (DIRECTIONS.has(name)) section.direction = name;
    }
  }
  return sections;
}

const isRtp = (section: MediaSection) => section.proto.includes('RTP');

/**
 * What of `section` an offer negotiates, as a comparable value. With
 * `answer`, only what that answer could have kept: its payload types (in the
 * order `section` gives them), the feedback and extensions it names, the SCTP
 * attributes it states. Everything else is compared whole.
 */
function negotiated(section: MediaSection, answer?: MediaSection): unknown[] {
  const rtp = isRtp(section);
  // A payload type listed twice means what it means once: wrtc lists red twice
  // in every offer after setCodecPreferences kept it (not in the one applied).
  const listed = [...new Set(section.formats)];
  const formats = rtp && answer ? listed.filter((pt) => answer.formats.includes(pt)) : listed;
  const feedback = (pt: string) => {
    const own = [...(section.rtcpFb.get(pt) ?? [])];
    const kept = answer ? own.filter((fb) => answer.rtcpFb.get(pt)?.has(fb)) : own;
    return kept.sort();
  };
  const extensions = [...section.extmap]
    .filter(([uri]) => !answer || answer.extmap.has(uri))
    .map(([uri, attributes]) => `${attributes} ${uri}`)
    .sort();
  const stated = (value: string | undefined, inAnswer: string | undefined) =>
    answer && inAnswer === undefined ? undefined : value;
  return [
    section.kind,
    section.proto,
    formats,
    section.rejected,
    section.mid,
    section.direction,
    [...section.msids].sort(),
    section.ufrag,
    rtp ? formats.map((pt) => [pt, section.rtpmap.get(pt)?.toLowerCase(), section.fmtp.get(pt), feedback(pt)]) : [],
    // Feedback for every payload type (`a=rtcp-fb:*`).
    feedback('*'),
    extensions,
    stated(section.sctpPort, answer?.sctpPort),
    stated(section.maxMessageSize, answer?.maxMessageSize),
  ];
}

/**
 * Whether `offer`, freshly created, would negotiate nothing that `current`
 * (the connection's local description) has not already negotiated, so that
 * sending it would only cost a round. `makeOffer` asks it to drop the
 * spurious `negotiationneeded` events of libwebrtc (`@roamhq/wrtc`,
 * Chromium): for changes an answer already covered, or remembered while the
 * machine was answering or rolling back.
 *
 * Compared, per m-section and in order: kind, transport protocol, the m-line
 * payload types in order (the codec preference order), whether the section
 * is stopped or refused (port 0 without `a=bundle-only`), mid, direction,
 * the `a=msid` stream ids (also read from `a=ssrc:N msid:`), ICE ufrag, and
 * for each payload type its `a=rtpmap` (encoding name case-insensitive, as
 * RFC 4855 has it), `a=fmtp` (parameter order ignored) and `a=rtcp-fb` (as a
 * set: werift reorders them between offers); then `a=extmap` (as a set keyed
 * by URI, with id and direction), `a=sctp-port` and `a=max-message-size`.
 * So `setCodecPreferences`, codec parameters, `setHeaderExtensionsToNegotiate`,
 * a transceiver's direction, stream, track or `stop()`, a section added or
 * removed and an ICE restart all count as changes.
 *
 * Ignored, because they change with no new offer needed: the `o=` line
 * (libwebrtc bumps its version with every offer, werift even starts a new
 * session id), ports other than 0, `c=` and `a=rtcp` addresses, candidates
 * and `a=end-of-candidates` (gathering), `a=setup` (`actpass` in offers,
 * `active` or `passive` in answers, and werift writes its role in
 * re-offers), `a=ice-pwd` (it changes with the ufrag, which is compared),
 * `a=fingerprint` (one certificate per connection), SSRC numbers and cname
 * (the sender's own), a payload type listed twice (wrtc lists red twice in
 * every offer created after `setCodecPreferences` kept red, though not in
 * the one it applied), and what no API changes once a section exists:
 * `a=group:BUNDLE` (it follows the mids), `a=rtcp-mux`, `a=rtcp-rsize`,
 * `a=rtcp-xr`, `a=ice-options`, `a=extmap-allow-mixed`, `a=msid-semantic`,
 * simulcast.
 *
 * When `current` is our own OFFER the fresh one must match it exactly:
 * libwebrtc (wrtc) and Chromium re-offer the same list in the same order,
 * however much the answer narrowed it (checked against werift's answers,
 * which keep two audio codecs and one video codec). werift's own re-offer is
 * the exception: it adds the opus `a=fmtp` it read in the answer, so a
 * werift peer asked to negotiate with its offer current sends one more
 * offer, once (werift does not ask by itself in that state: it tracks what
 * its offers covered).
 *
 * When `current` is our ANSWER (or pranswer) it holds only what both sides
 * share, and the connection's next offer lists more. wrtc answers werift's
 * audio offer with opus and PCMU, no header extensions and no
 * `max-message-size`, then offers the same two codecs first followed by its
 * thirteen others, four extensions and `max-message-size`; Chromium,
 * answering an offer that preferred opus alone, offers all eight of its
 * codecs next; wrtc answering wrtc leaves out VP9 profiles and flexfec that
 * its next offer appends. So the fresh offer is first restricted to what the
 * answer could hold: its payload types to those in the answer, in the
 * offer's order; its `a=rtcp-fb` and `a=extmap` to those in the answer;
 * `a=sctp-port` and `a=max-message-size` to where the answer states them.
 * A negotiated codec removed, moved behind another negotiated one or given
 * other parameters, or a negotiated extension removed or renumbered, still
 * differs; a codec the answer lacks preferred first does not, rightly, since
 * the remote could not use it anyway.
 *
 * What an answer cannot tell is not seen. A codec or extension the answer
 * lacks that the offer adds back may be one the remote offer never had; it
 * waits for the next change that needs an offer. Directions are compared
 * exactly: an answer's direction is ours intersected with the remote offer's
 * (an answer to a `recvonly` offer is `sendonly` while the next offer says
 * `sendrecv`), and without the remote offer, "same" could hide a transceiver
 * that starts receiving; a mismatch costs one round, after which the current
 * description is our offer and matches.
 */
export function sameMedia(
  current: { readonly type: string; readonly sdp: string },
  offer: { readonly sdp: string },
): boolean {
  const was = mediaSections(current.sdp);
  const next = mediaSections(offer.sdp);
  if (was.length !== next.length) return false;
  const isAnswer = current.type === 'answer' || current.type === 'pranswer';
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return was.every((section, index) => {
    const fresh = next[index] as MediaSection;
    return same(negotiated(section), negotiated(fresh, isAnswer ? section : undefined));
  });
}

/** How many m-sections a description has: an offer with none negotiates nothing. */
export function mediaSectionCount(sdp: string): number {
  return sdp.match(/^m=/gm)?.length ?? 0;
}

/** The DTLS role an answer (or a description that fixed it) states: `active` is the DTLS client, `passive` the server. */
export type DtlsRole = 'active' | 'passive';

/** The `a=setup` of the first m-section that states one (`actpass` in offers, `active` or `passive` in answers). */
function setupOf(sdp: string): string | undefined {
  return /^a=setup:(\S+)/m.exec(sdp)?.[1];
}

/** The first `a=fingerprint` (session or media level): it names the DTLS certificate, so the association. */
function fingerprintOf(sdp: string): string | undefined {
  return /^a=fingerprint:(.+?)\s*$/m.exec(sdp)?.[1];
}

/**
 * The DTLS role this side holds in the association the last completed
 * negotiation set up, from the connection's current descriptions: our
 * answer states it, or the peer's answer to our offer states the other one.
 * Undefined before any negotiation completed (or with SDP that names none).
 */
export function establishedDtlsRole(
  local: { readonly type: string; readonly sdp: string } | null | undefined,
  remote: { readonly type: string; readonly sdp: string } | null | undefined,
): DtlsRole | undefined {
  if (!local || !remote) return undefined;
  const ours = local.type === 'answer' ? setupOf(local.sdp) : undefined;
  if (ours === 'active' || ours === 'passive') return ours;
  const theirs = local.type === 'offer' && remote.type === 'answer' ? setupOf(remote.sdp) : undefined;
  if (theirs === 'active') return 'passive';
  if (theirs === 'passive') return 'active';
  return undefined;
}

/**
 * `answer` with the DTLS role of the association it continues: every
 * `a=setup:active|passive` line says `role`. A subsequent answer must keep
 * the role of a DTLS association that carries on (RFC 8842, section 5.5);
 * Firefox answers an ICE-restarting offer with `a=setup:active` whatever its
 * role, and libwebrtc then refuses the answer ("Failed to set SSL role for
 * the transport"). `remoteOffer` and `previousRemote` tell whether the
 * association carries on: the peer's certificate (`a=fingerprint`) is the
 * same. Returns `answer` itself when nothing needs to change.
 */
export function keepDtlsRole<D extends { readonly type: string; readonly sdp: string }>(
  answer: D,
  role: DtlsRole | undefined,
  remoteOffer: { readonly sdp: string },
  previousRemote: { readonly sdp: string } | null | undefined,
): D {
  if (role === undefined || !previousRemote) return answer;
  const setup = setupOf(answer.sdp);
  if ((setup !== 'active' && setup !== 'passive') || setup === role) return answer;
  const certificate = fingerprintOf(remoteOffer.sdp);
  if (certificate === undefined || certificate !== fingerprintOf(previousRemote.sdp)) return answer;
  return { ...answer, sdp: answer.sdp.replace(/^a=setup:(active|passive)(?=\r?$)/gm, `a=setup:${role}`) };
}

/** One m-section of a description, as an application reads it (`ManagedConnection.remoteMedia`). */
export interface MediaSectionSummary {
  /** `audio`, `video` or `application` (data channels). */
  kind: string;
  /** The section's `a=mid`, which names its transceiver; null when the SDP has none. */
  mid: string | null;
  /** As the description's author wrote it: in a peer's description, `sendonly` means the peer sends. */
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** Codecs in preference order, as `a=rtpmap` names them (`opus/48000/2`, `VP8/90000`); empty for data channels. */
  codecs: string[];
  /** A stopped transceiver or a refused section (port 0). */
  stopped: boolean;
}

/**
 * What each m-section of `sdp` negotiates, in order.
 *
 * @example
 * const video = mediaSummary(pc.remoteDescription.sdp).find((section) => section.kind === 'video');
 * console.log(video?.codecs[0]); // the codec the peer prefers, e.g. "VP8/90000"
 */
export function mediaSummary(sdp: string): MediaSectionSummary[] {
  return mediaSections(sdp).map((section) => ({
    kind: section.kind,
    mid: section.mid ?? null,
    direction: section.direction as MediaSectionSummary['direction'],
    codecs: isRtp(section)
      ? [...new Set(section.formats)].flatMap((pt) => {
          const codec = section.rtpmap.get(pt);
          return codec ? [codec] : [];
        })
      : [],
    stopped: section.rejected,
  }));
}
