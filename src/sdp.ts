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
  if (candidate.sdpMLineIndex != null) return candidate.sdpMLineIndex < (sdp.match(/^m=/gm)?.length ?? 0);
  return true;
}

/**
 * Whether two descriptions negotiate the same media: the same m-sections
 * (kind, mid, direction, sending tracks) and ICE credentials. Session
 * versions, ports and candidates are ignored.
 */
export function sameMedia(
  current: { readonly type: string; readonly sdp: string },
  offer: { readonly sdp: string },
): boolean {
  const media = (sdp: string) =>
    sdp
      .split(/\r?\n/)
      .filter((line) =>
        /^(m=\S+|a=mid:|a=(sendrecv|sendonly|recvonly|inactive)$|a=msid:|a=ice-ufrag:|a=sctp-port:)/.test(line),
      )
      .map((line) => (line.startsWith('m=') ? line.split(' ')[0] : line))
      .join('\n');
  return media(current.sdp) === media(offer.sdp);
}
