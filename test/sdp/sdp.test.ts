import { describe, expect, test } from 'vitest';
import type { IceCandidate } from '../../src/protocol/messages.js';
import { candidateFitsDescription, iceUfrag, sameMedia } from '../../src/sdp.js';
import {
  chromiumAnswer,
  chromiumOffer,
  weriftOffer,
  weriftReoffer,
  wrtcAnswer,
  wrtcOffer,
} from './fixtures/captured.js';

/**
 * `sdp` with every `search` replaced. Throws when there is none, so that a
 * fixture recaptured without the line a test edits cannot turn the test into
 * a comparison of two identical descriptions.
 */
function edit(sdp: string, search: string | RegExp, replacement: string): string {
  const pattern = typeof search === 'string' ? new RegExp(search.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'g') : search;
  if (!new RegExp(pattern.source, pattern.flags.replace('g', '')).test(sdp)) {
    throw new Error(`fixture has no ${String(search)}`);
  }
  return sdp.replace(pattern, replacement);
}

/** Applies several edits in order. */
function edits(sdp: string, ...changes: Array<[string | RegExp, string]>): string {
  return changes.reduce((text, [search, replacement]) => edit(text, search, replacement), sdp);
}

const asOffer = (sdp: string) => ({ type: 'offer', sdp });
const asAnswer = (sdp: string) => ({ type: 'answer', sdp });
const fresh = (sdp: string) => ({ sdp });
const lf = (sdp: string) => sdp.replace(/\r\n/g, '\n');

/** Chromium's audio m-line in {@link chromiumOffer}: opus, red, G722, PCMU, PCMA, CN, telephone-event ×2. */
const CHROMIUM_AUDIO = 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126';
/** wrtc's audio m-line in {@link wrtcOffer}: the two codecs its answer negotiated with werift, then its own. */
const WRTC_AUDIO = 'm=audio 45236 UDP/TLS/RTP/SAVPF 96 0 63 103 104 9 102 8 106 105 13 110 112 113 126';

describe('sameMedia, current description is our offer: compared exactly', () => {
  const current = asOffer(chromiumOffer);
  const same = (offer: string) => sameMedia(current, fresh(offer));

  test('the same offer is the same media', () => {
    expect(same(chromiumOffer)).toBe(true);
  });

  test.each<[string, string]>([
    // What libwebrtc and Chromium change in every offer they create.
    ['the session version', edit(chromiumOffer, ' 6 IN IP4', ' 7 IN IP4')],
    // werift starts a new session id in every offer.
    ['the session id', edit(chromiumOffer, 'o=- 7748656437160071873', 'o=- 22373065')],
    // Gathering fills in real ports, addresses and candidates.
    [
      'ports other than 0',
      edits(chromiumOffer, ['m=audio 9 ', 'm=audio 51234 '], ['m=application 9 ', 'm=application 40000 ']),
    ],
    [
      'connection and RTCP addresses',
      edits(
        chromiumOffer,
        ['c=IN IP4 0.0.0.0', 'c=IN IP4 192.0.2.2'],
        ['a=rtcp:9 IN IP4 0.0.0.0', 'a=rtcp:51235 IN IP4 192.0.2.2'],
      ),
    ],
    [
      'candidates and end-of-candidates',
      edit(
        chromiumOffer,
        'a=mid:0\r\n',
        'a=mid:0\r\na=candidate:3229573512 1 udp 2122194687 192.0.2.2 51234 typ host generation 0 network-id 1\r\na=end-of-candidates\r\n',
      ),
    ],
    // werift writes the role it took in its re-offers; answers write active or passive.
    ['a=setup', edit(chromiumOffer, 'a=setup:actpass', 'a=setup:passive')],
    [
      'a=ice-pwd alone',
      edit(chromiumOffer, 'a=ice-pwd:9DQ9mQxIF+HQ8BhwB1ZL9vsf', 'a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa'),
    ],
    ['the fingerprint', edit(chromiumOffer, 'sha-256 8D:88', 'sha-256 8E:88')],
    [
      'SSRC numbers and cname',
      edits(chromiumOffer, ['a=ssrc:789347828', 'a=ssrc:1'], ['cname:eBXm6li9403gCGTc', 'cname:x']),
    ],
    ['the BUNDLE group line', edit(chromiumOffer, 'a=group:BUNDLE 0 1', 'a=group:BUNDLE 1 0')],
    [
      'session-level attributes',
      edits(
        chromiumOffer,
        ['a=extmap-allow-mixed\r\n', ''],
        ['a=msid-semantic: WMS 29f0df26-4b5e-4828-95fb-4ab15a24da8c', 'a=msid-semantic: WMS'],
      ),
    ],
    [
      'rtcp-rsize, rtcp-xr, ice-options',
      edits(
        chromiumOffer,
        ['a=rtcp-rsize\r\n', ''],
        ['a=rtcp-xr:rcvr-rtt=all\r\n', ''],
        ['a=ice-options:trickle', 'a=ice-options:trickle renomination'],
      ),
    ],
    [
      'the order of fmtp parameters',
      edit(chromiumOffer, 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:111 useinbandfec=1; minptime=10'),
    ],
    ['the case of an encoding name', edit(chromiumOffer, 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:111 OPUS/48000/2')],
    [
      'the order of extmap lines',
      edits(
        chromiumOffer,
        ['a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n', ''],
        [
          'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n',
          'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n',
        ],
      ),
    ],
    // The msid is also in a=msid; SSRC lines only restate it.
    ['a=ssrc msid lines next to a=msid', edit(chromiumOffer, /a=ssrc:789347828 msid:.*\r\n/, '')],
  ])('ignored: %s', (_, offer) => {
    expect(same(offer)).toBe(true);
  });

  test.each<[string, string]>([
    // setCodecPreferences
    ['codec order', edit(chromiumOffer, CHROMIUM_AUDIO, 'm=audio 9 UDP/TLS/RTP/SAVPF 0 111 63 9 8 13 110 126')],
    [
      'a codec removed',
      edits(
        chromiumOffer,
        [CHROMIUM_AUDIO, 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 8 13 110 126'],
        ['a=rtpmap:0 PCMU/8000\r\n', ''],
      ),
    ],
    [
      'a codec added',
      edits(
        chromiumOffer,
        [CHROMIUM_AUDIO, `${CHROMIUM_AUDIO} 102`],
        ['a=rtpmap:126 telephone-event/8000\r\n', 'a=rtpmap:126 telephone-event/8000\r\na=rtpmap:102 ILBC/8000\r\n'],
      ),
    ],
    ['a payload type mapped to another codec', edit(chromiumOffer, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMA/8000')],
    ['a clock rate', edit(chromiumOffer, 'a=rtpmap:9 G722/8000', 'a=rtpmap:9 G722/16000')],
    [
      'a codec parameter',
      edit(chromiumOffer, 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:111 minptime=10;useinbandfec=0'),
    ],
    [
      'a codec parameter added',
      edit(chromiumOffer, 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=fmtp:111 minptime=10;useinbandfec=1;stereo=1'),
    ],
    ['an fmtp line added', edit(chromiumOffer, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000\r\na=fmtp:0 ptime=20')],
    ['RTCP feedback', edit(chromiumOffer, 'a=rtcp-fb:111 transport-cc', 'a=rtcp-fb:111 nack')],
    // setHeaderExtensionsToNegotiate
    [
      'a header extension removed',
      edit(chromiumOffer, 'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n', ''),
    ],
    ['a header extension id', edit(chromiumOffer, 'a=extmap:1 urn', 'a=extmap:5 urn')],
    ['a header extension direction', edit(chromiumOffer, 'a=extmap:1 urn', 'a=extmap:1/sendonly urn')],
    ['the direction', edit(chromiumOffer, 'a=sendrecv', 'a=recvonly')],
    [
      'the stream of the track (setStreams)',
      edit(chromiumOffer, /29f0df26-4b5e-4828-95fb-4ab15a24da8c d274/g, 'other-stream d274'),
    ],
    ['no track any more', edits(chromiumOffer, [/a=msid:.*\r\n/, ''], [/a=ssrc:789347828 msid:.*\r\n/, ''])],
    ['the mid', edits(chromiumOffer, ['a=mid:0', 'a=mid:audio'], ['a=group:BUNDLE 0 1', 'a=group:BUNDLE audio 1'])],
    ['the kind', edit(chromiumOffer, 'm=audio', 'm=video')],
    ['the transport protocol', edit(chromiumOffer, 'UDP/TLS/RTP/SAVPF', 'UDP/TLS/RTP/SAVP')],
    // transceiver.stop(): Chromium offers port 0 and inactive.
    ['a stopped section (port 0)', edit(chromiumOffer, 'm=audio 9 ', 'm=audio 0 ')],
    ['the SCTP port', edit(chromiumOffer, 'a=sctp-port:5000', 'a=sctp-port:5001')],
    ['the SCTP max-message-size', edit(chromiumOffer, 'a=max-message-size:262144', 'a=max-message-size:65536')],
    ['the ICE ufrag (a restart)', edit(chromiumOffer, /a=ice-ufrag:vyf2/g, 'a=ice-ufrag:new1')],
    [
      'the ICE ufrag of one section only',
      edit(chromiumOffer, /(m=application[\s\S]*)a=ice-ufrag:vyf2/, '$1a=ice-ufrag:new1'),
    ],
    [
      'a section added',
      `${chromiumOffer}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n`,
    ],
    ['a section removed', chromiumOffer.slice(0, chromiumOffer.indexOf('m=application'))],
    [
      'the order of sections',
      (() => {
        const at = chromiumOffer.indexOf('m=audio');
        const app = chromiumOffer.indexOf('m=application');
        return chromiumOffer.slice(0, at) + chromiumOffer.slice(app) + chromiumOffer.slice(at, app);
      })(),
    ],
  ])('compared: %s', (_, offer) => {
    expect(same(offer)).toBe(false);
  });

  test('the order of rtcp-fb lines is ignored (werift reorders them in its re-offers)', () => {
    const feedback = 'a=rtcp-fb:111 transport-cc\r\na=rtcp-fb:111 nack\r\n';
    const withFeedback = edit(chromiumOffer, 'a=rtcp-fb:111 transport-cc\r\n', feedback);
    const reordered = edit(
      chromiumOffer,
      'a=rtcp-fb:111 transport-cc\r\n',
      'a=rtcp-fb:111 nack\r\na=rtcp-fb:111 transport-cc\r\n',
    );
    expect(sameMedia(asOffer(withFeedback), fresh(reordered))).toBe(true);
    expect(sameMedia(asOffer(withFeedback), fresh(chromiumOffer))).toBe(false);
  });

  test('a payload type listed twice is listed once (wrtc repeats red after setCodecPreferences)', () => {
    const redTwice = edits(
      chromiumOffer,
      [CHROMIUM_AUDIO, 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 63 9 0 8 13 110 126'],
      ['a=fmtp:63 111/111\r\n', 'a=fmtp:63 111/111\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n'],
    );
    expect(same(redTwice)).toBe(true);
    expect(sameMedia(asAnswer(chromiumAnswer), fresh(redTwice))).toBe(true);
  });

  test('port 0 with a=bundle-only is a bundled section, not a stopped one', () => {
    const bundleOnly = edit(chromiumOffer, 'm=application 9 ', 'm=application 0 ');
    const withFlag = edit(bundleOnly, 'a=mid:1', 'a=mid:1\r\na=bundle-only');
    expect(same(withFlag)).toBe(true);
  });

  test('CRLF and LF line endings compare alike, either way round', () => {
    expect(sameMedia(current, fresh(lf(chromiumOffer)))).toBe(true);
    expect(sameMedia(asOffer(lf(chromiumOffer)), fresh(chromiumOffer))).toBe(true);
    expect(sameMedia(asOffer(lf(chromiumOffer)), fresh(edit(chromiumOffer, 'a=sendrecv', 'a=sendonly')))).toBe(false);
  });

  test('a change in the second of two sections is seen', () => {
    expect(same(edit(chromiumOffer, 'a=max-message-size:262144', 'a=max-message-size:262145'))).toBe(false);
  });

  test("werift's re-offer, with the opus fmtp it took from the answer, costs one round", () => {
    // Exact comparison, as for libwebrtc: the parameters really are new in
    // werift's offer. werift fires no spurious negotiationneeded in this
    // state by itself, and its next re-offer matches this one.
    expect(sameMedia(asOffer(weriftOffer), fresh(weriftReoffer))).toBe(false);
    expect(sameMedia(asOffer(weriftReoffer), fresh(edit(weriftReoffer, 'o=- 22373065', 'o=- 1')))).toBe(true);
  });

  test('session-level ICE ufrag and direction (as the simulated stack writes them) are every section’s', () => {
    const simulated =
      'v=0\r\no=- s1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:u1\r\na=ice-pwd:p\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n';
    const s = (sdp: string) => sameMedia(asOffer(simulated), fresh(sdp));
    expect(s(edit(simulated, ' 1 IN IP4', ' 2 IN IP4'))).toBe(true);
    expect(s(edit(simulated, 'a=ice-ufrag:u1', 'a=ice-ufrag:u2'))).toBe(false);
    expect(s(edit(simulated, 'a=mid:0', 'a=mid:0\r\na=ice-ufrag:u2'))).toBe(false);
    expect(s(edit(simulated, 't=0 0', 't=0 0\r\na=sendrecv'))).toBe(true);
    expect(s(edit(simulated, 't=0 0', 't=0 0\r\na=inactive'))).toBe(false);
  });

  test('no media sections on either side is the same; one more is not', () => {
    const empty = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
    expect(sameMedia(asOffer(empty), fresh(empty))).toBe(true);
    expect(sameMedia(asOffer(empty), fresh(chromiumOffer))).toBe(false);
  });
});

describe('sameMedia, current description is our answer: the offer restricted to what the answer negotiated', () => {
  test('Chromium: the next offer after answering lists every codec; the answer kept opus only', () => {
    expect(sameMedia(asAnswer(chromiumAnswer), fresh(chromiumOffer))).toBe(true);
    // The same pair read as offer and re-offer differs: the restriction is what makes it equal.
    expect(sameMedia(asOffer(chromiumAnswer), fresh(chromiumOffer))).toBe(false);
  });

  test('wrtc: the next offer after answering werift adds codecs, header extensions and max-message-size', () => {
    expect(sameMedia(asAnswer(wrtcAnswer), fresh(wrtcOffer))).toBe(true);
    expect(sameMedia(asOffer(wrtcAnswer), fresh(wrtcOffer))).toBe(false);
    expect(sameMedia({ type: 'pranswer', sdp: wrtcAnswer }, fresh(wrtcOffer))).toBe(true);
    expect(sameMedia(asAnswer(lf(wrtcAnswer)), fresh(wrtcOffer))).toBe(true);
  });

  const current = asAnswer(wrtcAnswer);
  const same = (offer: string) => sameMedia(current, fresh(offer));

  test.each<[string, string]>([
    // The answer never had PCMA (werift has none): preferring it changes nothing the remote can take.
    [
      'a codec the answer lacks moved first',
      edit(wrtcOffer, WRTC_AUDIO, 'm=audio 45236 UDP/TLS/RTP/SAVPF 8 96 0 63 103 104 9 102 106 105 13 110 112 113 126'),
    ],
    [
      'a codec the answer lacks removed',
      edits(
        wrtcOffer,
        [WRTC_AUDIO, 'm=audio 45236 UDP/TLS/RTP/SAVPF 96 0 63 103 104 9 102 106 105 13 110 112 113 126'],
        ['a=rtpmap:8 PCMA/8000\r\n', ''],
      ),
    ],
    [
      'a header extension the answer lacks removed',
      edit(wrtcOffer, 'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n', ''),
    ],
    // The remote can only use what was negotiated, in the negotiated order: unchanged.
    [
      'a negotiated codec moved among codecs the answer lacks',
      edit(wrtcOffer, WRTC_AUDIO, 'm=audio 45236 UDP/TLS/RTP/SAVPF 96 63 103 104 9 102 8 106 105 13 110 112 113 126 0'),
    ],
    ['a=setup actpass (answer: active)', wrtcOffer],
  ])('ignored: %s', (_, offer) => {
    expect(same(offer)).toBe(true);
  });

  test.each<[string, string]>([
    [
      'negotiated codecs reordered',
      edit(wrtcOffer, WRTC_AUDIO, 'm=audio 45236 UDP/TLS/RTP/SAVPF 0 96 63 103 104 9 102 8 106 105 13 110 112 113 126'),
    ],
    [
      'the first negotiated codec pushed behind others',
      edit(wrtcOffer, WRTC_AUDIO, 'm=audio 45236 UDP/TLS/RTP/SAVPF 0 63 103 104 9 102 8 106 105 13 110 112 113 126 96'),
    ],
    [
      'a negotiated codec removed',
      edits(
        wrtcOffer,
        [WRTC_AUDIO, 'm=audio 45236 UDP/TLS/RTP/SAVPF 96 63 103 104 9 102 8 106 105 13 110 112 113 126'],
        ['a=rtpmap:0 PCMU/8000\r\n', ''],
      ),
    ],
    [
      'a negotiated codec’s parameters',
      edit(wrtcOffer, 'a=fmtp:96 minptime=10;useinbandfec=1', 'a=fmtp:96 minptime=20;useinbandfec=1'),
    ],
    [
      'a negotiated payload type mapped to another codec',
      edit(wrtcOffer, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMA/8000'),
    ],
    ['the direction', edit(wrtcOffer, 'a=recvonly', 'a=inactive')],
    ['the SCTP port the answer states', edit(wrtcOffer, 'a=sctp-port:5000', 'a=sctp-port:5001')],
    ['the ICE ufrag', edit(wrtcOffer, /a=ice-ufrag:GKy8/g, 'a=ice-ufrag:AAAA')],
    ['the mid', edit(wrtcOffer, 'a=mid:1', 'a=mid:data')],
    [
      'a section added',
      `${wrtcOffer}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n`,
    ],
  ])('compared: %s', (_, offer) => {
    expect(same(offer)).toBe(false);
  });

  test.each<[string, string]>([
    // setHeaderExtensionsToNegotiate stopping one Chromium negotiated.
    [
      'a negotiated header extension removed',
      edit(chromiumOffer, 'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n', ''),
    ],
    ['a negotiated header extension renumbered', edit(chromiumOffer, 'a=extmap:3 http', 'a=extmap:9 http')],
    // setCodecPreferences without opus: nothing negotiated is left.
    [
      'the only negotiated codec removed',
      edits(
        chromiumOffer,
        [CHROMIUM_AUDIO, 'm=audio 9 UDP/TLS/RTP/SAVPF 63 9 0 8 13 110 126'],
        ['a=rtpmap:111 opus/48000/2\r\n', ''],
      ),
    ],
    ['feedback the answer negotiated', edit(chromiumOffer, 'a=rtcp-fb:111 transport-cc\r\n', '')],
    ['the stream of the track', edit(chromiumOffer, /29f0df26-4b5e-4828-95fb-4ab15a24da8c d274/g, 'other-stream d274')],
    ['recvonly instead of sendrecv', edit(chromiumOffer, 'a=sendrecv', 'a=recvonly')],
    [
      'the max-message-size the answer states',
      edit(chromiumOffer, 'a=max-message-size:262144', 'a=max-message-size:65536'),
    ],
  ])('compared against a Chromium answer: %s', (_, offer) => {
    expect(sameMedia(asAnswer(chromiumAnswer), fresh(offer))).toBe(false);
  });

  test('a direction the answer narrowed counts as a change: the remote offer is not at hand', () => {
    // wrtc answering a recvonly offer with a sending transceiver says sendonly;
    // its next offer says sendrecv. Same, if the remote still only receives;
    // a change, if this side just switched from sendonly to sendrecv.
    const sendonlyAnswer = edit(wrtcAnswer, 'a=recvonly', 'a=sendonly');
    expect(sameMedia(asAnswer(sendonlyAnswer), fresh(edit(wrtcOffer, 'a=recvonly', 'a=sendrecv')))).toBe(false);
    expect(sameMedia(asAnswer(sendonlyAnswer), fresh(edit(wrtcOffer, 'a=recvonly', 'a=sendonly')))).toBe(true);
  });

  test('what an answer cannot tell: a codec it lacks, added back, counts as no change', () => {
    // Indistinguishable from a codec the remote offer never had (wrtcOffer lists
    // PCMA although werift's offer had none): it waits for the next real change.
    const withoutPcma = edits(
      wrtcOffer,
      [WRTC_AUDIO, 'm=audio 45236 UDP/TLS/RTP/SAVPF 96 0 63 103 104 9 102 106 105 13 110 112 113 126'],
      ['a=rtpmap:8 PCMA/8000\r\n', ''],
    );
    expect(same(withoutPcma)).toBe(true);
    expect(same(wrtcOffer)).toBe(true);
  });
});

describe('iceUfrag', () => {
  test('the first a=ice-ufrag of real descriptions, CRLF or LF', () => {
    expect(iceUfrag(chromiumOffer)).toBe('vyf2');
    expect(iceUfrag(wrtcAnswer)).toBe('GKy8');
    expect(iceUfrag(weriftOffer)).toBe('8eb1');
    expect(iceUfrag(lf(weriftOffer))).toBe('8eb1');
  });

  test('the first one when sections differ, the session-level one where it is', () => {
    expect(iceUfrag(edit(chromiumOffer, /(m=application[\s\S]*)a=ice-ufrag:vyf2/, '$1a=ice-ufrag:other'))).toBe('vyf2');
    expect(iceUfrag('v=0\r\na=ice-ufrag:sess\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n')).toBe('sess');
  });

  test('undefined without one; a line merely containing it does not count', () => {
    expect(iceUfrag('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n')).toBeUndefined();
    expect(iceUfrag('v=0\r\nx=a=ice-ufrag:nope\r\n')).toBeUndefined();
    expect(iceUfrag('')).toBeUndefined();
  });
});

describe('candidateFitsDescription', () => {
  // As wrtc and werift hand them over (RTCIceCandidate.toJSON()), for wrtcAnswer and weriftOffer.
  const fromWrtc: IceCandidate = {
    candidate: 'candidate:3229573512 1 udp 2122194687 192.0.2.2 45236 typ host generation 0 ufrag GKy8 network-id 1',
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: 'GKy8',
  };
  const fromWerift: IceCandidate = {
    candidate: 'candidate:626da4e5384a0ce2d0d93678a 1 udp 2116026367 127.0.0.1 50445 typ host generation 0 ufrag 8eb1',
    sdpMid: '1',
    sdpMLineIndex: 1,
    usernameFragment: '8eb1',
  };

  test('a candidate of the description, by usernameFragment and mid', () => {
    expect(candidateFitsDescription(fromWrtc, wrtcAnswer)).toBe(true);
    expect(candidateFitsDescription(fromWerift, weriftOffer)).toBe(true);
    expect(candidateFitsDescription(fromWerift, lf(weriftOffer))).toBe(true);
  });

  test('another ICE generation does not fit (an ICE restart replaced it)', () => {
    expect(candidateFitsDescription(fromWrtc, edit(wrtcAnswer, /a=ice-ufrag:GKy8/g, 'a=ice-ufrag:NEW1'))).toBe(false);
    expect(candidateFitsDescription(fromWrtc, weriftOffer)).toBe(false);
  });

  test('without usernameFragment, the ufrag in the candidate attribute decides', () => {
    const { usernameFragment: _, ...bare } = fromWrtc;
    expect(candidateFitsDescription(bare, wrtcAnswer)).toBe(true);
    expect(candidateFitsDescription({ ...bare, usernameFragment: null }, wrtcAnswer)).toBe(true);
    expect(candidateFitsDescription(bare, edit(wrtcAnswer, /a=ice-ufrag:GKy8/g, 'a=ice-ufrag:NEW1'))).toBe(false);
  });

  test('usernameFragment wins over the attribute', () => {
    expect(candidateFitsDescription({ ...fromWrtc, usernameFragment: 'NEW1' }, wrtcAnswer)).toBe(false);
  });

  test('with no ufrag anywhere, only the section is checked', () => {
    const anonymous: IceCandidate = { candidate: 'candidate:1 1 udp 2122194687 192.0.2.2 45236 typ host', sdpMid: '0' };
    expect(candidateFitsDescription(anonymous, wrtcAnswer)).toBe(true);
    expect(candidateFitsDescription({ ...anonymous, sdpMid: '7' }, wrtcAnswer)).toBe(false);
  });

  test('a mid the description does not have does not fit; a mid is matched whole', () => {
    expect(candidateFitsDescription({ ...fromWrtc, sdpMid: '2' }, wrtcAnswer)).toBe(false);
    const tenSections = edit(wrtcAnswer, 'a=mid:1', 'a=mid:10');
    expect(candidateFitsDescription({ ...fromWrtc, sdpMid: '1' }, tenSections)).toBe(false);
    expect(candidateFitsDescription({ ...fromWrtc, sdpMid: '10' }, tenSections)).toBe(true);
  });

  test('without a mid, the m-line index must name a section', () => {
    expect(candidateFitsDescription({ ...fromWrtc, sdpMid: null, sdpMLineIndex: 1 }, wrtcAnswer)).toBe(true);
    expect(candidateFitsDescription({ ...fromWrtc, sdpMid: null, sdpMLineIndex: 2 }, wrtcAnswer)).toBe(false);
    expect(candidateFitsDescription({ ...fromWrtc, sdpMid: null, sdpMLineIndex: 0 }, 'v=0\r\n')).toBe(false);
  });

  test('the mid decides before the index', () => {
    expect(candidateFitsDescription({ ...fromWrtc, sdpMid: '0', sdpMLineIndex: 9 }, wrtcAnswer)).toBe(true);
  });

  test('with neither mid nor index, the ICE generation alone', () => {
    const { sdpMid: _mid, sdpMLineIndex: _index, ...loose } = fromWrtc;
    expect(candidateFitsDescription(loose, wrtcAnswer)).toBe(true);
    expect(candidateFitsDescription(loose, weriftOffer)).toBe(false);
  });

  test('an end-of-candidates marker (empty candidate) of the generation fits', () => {
    expect(candidateFitsDescription({ candidate: '', sdpMid: '0', usernameFragment: 'GKy8' }, wrtcAnswer)).toBe(true);
    expect(candidateFitsDescription({ candidate: '', sdpMid: '0', usernameFragment: 'old1' }, wrtcAnswer)).toBe(false);
  });
});
