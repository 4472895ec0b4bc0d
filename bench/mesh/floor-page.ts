/**
 * Runs inside Chromium: the floor. The least negotiation that meshes over the
 * same signalling server and protocol (version 2) as rtcpool, written out by
 * hand with no library: no perfect negotiation, no state machine, no
 * rollback, no queueing. It relies on the roles the server hands out:
 *
 * - a page that finds peers in `rtc:joined` is the newcomer to each of them:
 *   it makes their connections and waits for their offers;
 * - a page told `rtc:peer` was there first: it opens the `bench` channel,
 *   offers, and the newcomer answers;
 * - candidates are trickled as they come (the end-of-candidates null is not
 *   sent: nothing here needs it).
 *
 * So a pair costs exactly one offer and one answer, and has one channel.
 * Candidates need no queue: Chromium chains `addIceCandidate` behind the
 * `setRemoteDescription` that was called for the description they follow,
 * because the server relays each direction in order.
 */
import { expose, type Report, signallingUrl, whenOpen } from './page-common.js';

const CHANNEL = 'bench';

interface Frame {
  type: string;
  // The server's frames, trusted as they are: this page is as plain as a page can be.
  data: {
    client_id: string;
    peers: string[];
    id: string;
    peer: string;
    description: RTCSessionDescriptionInit & { type: 'offer' | 'answer' };
    from: string;
    candidate: RTCIceCandidateInit;
  };
}

const socket = new WebSocket(signallingUrl());
const connections = new Map<string, RTCPeerConnection>();
/** Set when the round starts; nothing is reported before. */
let report: Report = { joined: () => undefined, mark: () => undefined, fail: () => undefined };

const send = (type: string, data: object): void => socket.send(JSON.stringify({ type, data }));

/** A connection to `peerId` that trickles its candidates and reports the channel as open, whoever made it. */
function connect(peerId: string): RTCPeerConnection {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) send('rtc:candidate', { for: peerId, candidate });
  };
  pc.ondatachannel = ({ channel }) => whenOpen(channel, () => report.mark('open', peerId));
  connections.set(peerId, pc);
  return pc;
}

/** We were here first: open the channel and offer. */
async function offer(peerId: string): Promise<void> {
  const pc = connect(peerId);
  const channel = pc.createDataChannel(CHANNEL);
  whenOpen(channel, () => report.mark('open', peerId));
  await pc.setLocalDescription();
  report.mark('offer-sent', peerId);
  send('rtc:sdp', { to: peerId, description: pc.localDescription });
}

/** An offer (answer it) or the answer to ours. */
async function describe(peerId: string, description: Frame['data']['description']): Promise<void> {
  const pc = connections.get(peerId);
  if (!pc) {
    report.fail(`a description from unknown peer ${peerId}`);
    return;
  }
  report.mark(`${description.type}-received`, peerId);
  await pc.setRemoteDescription(description);
  if (description.type !== 'offer') return;
  await pc.setLocalDescription();
  report.mark('answer-sent', peerId);
  send('rtc:sdp', { to: peerId, description: pc.localDescription });
}

function onFrame({ type, data }: Frame): Promise<void> | undefined {
  switch (type) {
    case 'rtc:joined':
      report.joined(data.client_id);
      for (const peerId of data.peers) connect(peerId); // the newcomer waits for their offers
      return;
    case 'rtc:peer':
      return offer(data.id);
    case 'rtc:sdp':
      return describe(data.peer, data.description);
    case 'rtc:candidate':
      return connections.get(data.from)?.addIceCandidate(data.candidate);
    case 'rtc:error':
      report.fail(`server: ${JSON.stringify(data)}`);
      return;
  }
}

socket.addEventListener('message', ({ data }) => {
  onFrame(JSON.parse(String(data)) as Frame)?.catch((error: unknown) => report.fail(String(error)));
});

expose({
  ready: new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('signalling WebSocket failed')), { once: true });
  }),
  join(pool, given) {
    report = given;
    send('rtc:join', { pool });
  },
});
