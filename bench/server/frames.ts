/**
 * The synthetic signalling the clients relay: trickled ICE candidates with
 * an offer or answer now and then, built as ready JSON text so that the
 * load generator spends its CPU on sockets, not on `JSON.stringify`. Every
 * payload ends its text with `@@<send time>` (performance.now() of the load
 * process, which is also the receiving process, so one clock times both ends).
 */

/** One message in this many is an `rtc:sdp` (~1.1 KB); the rest are `rtc:candidate` (~200 B). */
export const SDP_EVERY = 5;

const CANDIDATE =
  'candidate:842163049 1 udp 1677729535 192.0.2.10 53241 typ srflx raddr 10.0.0.5 rport 53241 generation 0 ufrag Xq3b network-cost 999';

const SDP_LINES = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:Xq3b',
  'a=ice-pwd:4ZcD9ao1hH8B5kTyd1zJ0Cq7',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
  'a=setup:actpass',
  'a=mid:0',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
];
// Padded with attribute lines to a typical data-channel offer's size.
const SDP_TEXT = [
  ...SDP_LINES,
  ...Array.from({ length: 8 }, (_, i) => `a=x-bench-padding-${i}:${'0'.repeat(48)}`),
].join('\r\n');
/** The SDP as it sits inside a JSON string (its CRLFs escaped). */
const SDP_JSON = JSON.stringify(`${SDP_TEXT}\r\na=x-bench-sent:`).slice(1, -1);

/** The frame for message number `n` of a client, to peer `to` (an id that needs no JSON escaping). */
export function relayFrame(n: number, to: string, sentAt: number): string {
  const stamp = `@@${sentAt.toFixed(3)}`;
  if (n % SDP_EVERY === 0) {
    const type = n % (2 * SDP_EVERY) === 0 ? 'offer' : 'answer';
    return `{"type":"rtc:sdp","data":{"to":"${to}","description":{"type":"${type}","sdp":"${SDP_JSON}${stamp}"}}}`;
  }
  return `{"type":"rtc:candidate","data":{"for":"${to}","candidate":{"candidate":"${CANDIDATE} ${stamp}","sdpMid":"0","sdpMLineIndex":0}}}`;
}

const RELAY_SDP = Buffer.from('{"type":"rtc:sdp"');
const RELAY_CANDIDATE = Buffer.from('{"type":"rtc:candidate"');
const STAMP = Buffer.from('@@');

/**
 * The send time in a relayed frame, read from its bytes without parsing the
 * JSON; null when the frame is not a relay (join, peer, close, error: parse those).
 */
export function relayStamp(frame: Buffer): number | null {
  if (!(startsWith(frame, RELAY_CANDIDATE) || startsWith(frame, RELAY_SDP))) return null;
  const at = frame.indexOf(STAMP);
  return at === -1 ? null : Number.parseFloat(frame.toString('latin1', at + 2, at + 24));
}

function startsWith(frame: Buffer, prefix: Buffer): boolean {
  return frame.length >= prefix.length && frame.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** Ids are pasted into JSON unescaped: check once that they need no escaping. */
export const isPlainId = (id: string): boolean => /^[\w.:-]{1,128}$/.test(id);
