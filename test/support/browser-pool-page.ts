/**
 * Runs inside a browser (Chromium or Firefox), not in Node: one rtcpool
 * endpoint driven by the end-to-end tests through `window.poolHarness`
 * (see browser-pool-driver.ts). It joins pools of the test's own
 * `rtcpool serve` over `/ws`, with the library the server serves as
 * `/rtcpool.js` (esbuild leaves the import below to it), exactly as an
 * application would; every call takes and returns plain data.
 *
 * What it adds to a plain application: a hold on its outgoing signals (so
 * that both sides can be made to offer before either offer arrives: a
 * certain collision), the offers and answers it sent and received per peer,
 * and what arrives from each peer: channel messages, tracks, video frames
 * (counted and their brightness sampled, as the demo's tiles do) and sound
 * (the inbound audio energy from getStats, which both browsers report).
 */
import {
  type ClientMessage,
  type ManagedConnection,
  ManagedStream,
  Pool,
  Signalling,
  type SignallingChannel,
} from '../../src/index.js';

export interface PoolPeerStatus {
  id: string;
  /** This side yields in a collision: the peer was in the pool before us. */
  polite: boolean;
  /** The negotiation machine's state, e.g. `{"stable":"idle"}`. */
  state: string;
  /** Machine at rest in stable, and the connection's signaling state stable too. */
  settled: boolean;
  signalingState: string;
  connectionState: string;
  iceConnectionState: string;
  localUfrag: string | null;
  remoteUfrag: string | null;
  /** Offers and answers sent to this peer (counted as the pool hands them over) and received from it. */
  sent: { offers: number; answers: number };
  received: { offers: number; answers: number };
  /** Ready state of each data channel by label: ours (`own`) and the peer's (`remote`). */
  own: Record<string, string>;
  remote: Record<string, string>;
  /** Text of every message received from this peer, on any channel. */
  messages: string[];
  /** Remote tracks received (one `track` event each), by kind. */
  tracks: { audio: number; video: number };
  /** Transceivers with a negotiated mid, and how many of them send. */
  transceivers: { negotiated: number; sending: number; total: number };
  /** `negotiationneeded` events the browser fired on this connection. */
  nativeNegotiationNeeded: number;
}

/** The video codecs a browser can send and receive (RTCRtpSender/RTCRtpReceiver.getCapabilities), as mime types. */
export interface VideoCodecs {
  /** Media codecs only (no `rtx`, `red`, `ulpfec`, `flexfec`), each once, in the browser's order. */
  send: string[];
  receive: string[];
}

export interface PoolStatus {
  name: string;
  id: string | null;
  /** Signals held while `hold` is on. */
  held: number;
  peers: PoolPeerStatus[];
  /** Errors the pool reported (`error` events), as `code: message`. */
  errors: string[];
}

/** What arrives from one peer, sampled: compare two samples to tell live media from black and silence. */
export interface MediaSample {
  /** When it was taken (the page's clock, ms). */
  at: number;
  /**
   * Video frames decoded so far (getStats: inbound-rtp framesDecoded). Not
   * frames presented: a headless Firefox renders only the foreground tab, so
   * requestVideoFrameCallback stops in the others while frames still arrive.
   */
  frames: number;
  /** The brightest pixel of the current frame, 0-255 luma (a muted camera sends black frames). */
  luma: number;
  /** Total inbound audio energy so far (RTCInboundRtpStreamStats.totalAudioEnergy): flat while silent. */
  audioEnergy: number;
  videoWidth: number;
}

interface Remote {
  connection: ManagedConnection;
  polite: boolean;
  sent: { offers: number; answers: number };
  received: { offers: number; answers: number };
  own: Map<string, RTCDataChannel>;
  remote: Map<string, RTCDataChannel>;
  messages: string[];
  tracks: { audio: number; video: number };
  video: HTMLVideoElement | null;
  nativeNegotiationNeeded: number;
}

const canvas = document.createElement('canvas');
canvas.width = 32;
canvas.height = 18;
const drawing = canvas.getContext('2d', { willReadFrequently: true });

class Endpoint {
  readonly remotes = new Map<string, Remote>();
  readonly errors: string[] = [];
  readonly held: ClientMessage[] = [];
  holding = false;
  pool: Pool | null = null;
  /** Peers already in the pool when we joined: we are polite toward them. */
  firstPeers = new Set<string>();
  shared: ManagedStream | null = null;
  camera: MediaStream | null = null;
  signalling: Signalling | null = null;

  constructor(readonly name: string) {}

  join(poolName: string, openOnPeer: boolean): Promise<string> {
    this.remotes.clear();
    this.firstPeers = new Set();
    const socket = new WebSocket(`ws://${location.host}/ws?name=${encodeURIComponent(this.name)}`);
    const signalling = new Signalling.websocket(socket);
    this.signalling = signalling;
    // Subscribed before the pool is: `rtc:joined` names the peers already there before the pool announces them.
    signalling.messages.subscribe((message) => {
      if (message.type === 'rtc:joined') this.firstPeers = new Set(message.data.peers);
      if (message.type === 'rtc:sdp') {
        const remote = this.remotes.get(message.data.peer);
        if (remote) remote.received[message.data.description.type === 'offer' ? 'offers' : 'answers'] += 1;
      }
    });
    const channel: SignallingChannel = {
      messages: signalling.messages,
      errors: signalling.errors,
      state$: signalling.state$,
      send: (message) => {
        if (message.type === 'rtc:sdp') {
          const remote = this.remotes.get(message.data.to);
          if (remote) remote.sent[message.data.description.type === 'offer' ? 'offers' : 'answers'] += 1;
        }
        const signal = message.type === 'rtc:sdp' || message.type === 'rtc:candidate';
        if (this.holding && signal) this.held.push(message);
        else signalling.send(message);
      },
      close: () => signalling.close(),
    };
    const pool = new Pool({ iceServers: [] }, channel);
    this.pool = pool;
    pool.events.addEventListener('peer', ({ detail: { connection } }) => {
      const remote: Remote = {
        connection,
        polite: this.firstPeers.has(connection.id),
        sent: { offers: 0, answers: 0 },
        received: { offers: 0, answers: 0 },
        own: new Map(),
        remote: new Map(),
        messages: [],
        tracks: { audio: 0, video: 0 },
        video: null,
        nativeNegotiationNeeded: 0,
      };
      this.remotes.set(connection.id, remote);
      // Counted to tell whether the browser asks for a negotiation by itself.
      connection.peerConnection.addEventListener('negotiationneeded', () => {
        remote.nativeNegotiationNeeded += 1;
      });
      if (openOnPeer) {
        const label = `from-${this.name}`;
        const own = connection.dataChannel(label, undefined, true);
        remote.own.set(label, own);
        collect(remote, own);
      }
    });
    pool.events.addEventListener('datachannel', ({ detail: { connection, channel } }) => {
      const remote = this.remotes.get(connection.id);
      if (!remote) return;
      remote.remote.set(channel.label, channel);
      collect(remote, channel);
    });
    pool.events.addEventListener('track', ({ detail: { connection, track, streams } }) => {
      const remote = this.remotes.get(connection.id);
      if (!remote) return;
      remote.tracks[track.kind === 'audio' ? 'audio' : 'video'] += 1;
      if (!remote.video) play(remote, streams[0] ?? new MediaStream([track]));
    });
    pool.events.addEventListener('close', ({ detail: connection }) => {
      if (connection) this.remotes.delete(connection.id);
    });
    pool.events.addEventListener('error', ({ detail: { error } }) => {
      this.errors.push(`${error.code}: ${error.message}`);
    });
    return pool.join(poolName);
  }

  leave(): void {
    this.pool?.close();
    this.pool = null;
    this.shared = null;
    for (const remote of this.remotes.values()) remote.video?.remove();
    this.remotes.clear();
  }

  release(): void {
    this.holding = false;
    for (const message of this.held.splice(0)) this.signalling?.send(message);
  }

  async status(): Promise<PoolStatus> {
    return {
      name: this.name,
      id: this.pool?.id ?? null,
      held: this.held.length,
      peers: [...this.remotes.entries()].map(([id, remote]) => peerStatus(id, remote)),
      errors: [...this.errors],
    };
  }
}

function collect(remote: Remote, channel: RTCDataChannel): void {
  channel.addEventListener('message', ({ data }) => remote.messages.push(String(data)));
}

function play(remote: Remote, stream: MediaStream): void {
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  // Not muted: Chromium computes the inbound audio level only for sound that plays out.
  video.srcObject = stream;
  document.body.append(video);
  remote.video = video;
  video.play().catch(() => {
    // No autoplay with sound here: the picture still plays muted, and the audio statistics still count.
    video.muted = true;
    video.play().catch(() => undefined);
  });
}

const ufrag = (sdp: string | undefined) => sdp?.match(/^a=ice-ufrag:(\S+)/m)?.[1] ?? null;
const states = (channels: Map<string, RTCDataChannel>) =>
  Object.fromEntries([...channels].map(([label, channel]) => [label, channel.readyState]));

function peerStatus(id: string, remote: Remote): PoolPeerStatus {
  const pc = remote.connection.peerConnection;
  const state = remote.connection.negotiationState;
  const transceivers = pc.getTransceivers();
  return {
    id,
    polite: remote.polite,
    state: JSON.stringify(state),
    settled: JSON.stringify(state) === '{"stable":"idle"}' && pc.signalingState === 'stable',
    signalingState: pc.signalingState,
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
    localUfrag: ufrag(pc.localDescription?.sdp),
    remoteUfrag: ufrag(pc.remoteDescription?.sdp),
    sent: { ...remote.sent },
    received: { ...remote.received },
    own: states(remote.own),
    remote: states(remote.remote),
    messages: [...remote.messages],
    tracks: { ...remote.tracks },
    transceivers: {
      negotiated: transceivers.filter(({ mid }) => mid !== null).length,
      sending: transceivers.filter(({ currentDirection }) => currentDirection?.startsWith('send')).length,
      total: transceivers.length,
    },
    nativeNegotiationNeeded: remote.nativeNegotiationNeeded,
  };
}

/** Not codecs of their own: retransmission, redundancy and forward error correction. */
const isMediaCodec = (mimeType: string) => !/\/(rtx|red|ulpfec|flexfec-03)$/i.test(mimeType);
const sameCodec = (one: string, other: string) => one.toLowerCase() === other.toLowerCase();

/** The transceivers that send video on `pc` (not stopped). */
const videoSenders = (pc: RTCPeerConnection) =>
  pc
    .getTransceivers()
    .filter(({ sender, currentDirection }) => currentDirection !== 'stopped' && sender.track?.kind === 'video');

/** Each media codec's mime type once, in the order of `capabilities`. */
function mediaCodecs(capabilities: RTCRtpCapabilities | null): string[] {
  const found: string[] = [];
  for (const { mimeType } of capabilities?.codecs ?? []) {
    if (isMediaCodec(mimeType) && !found.some((known) => sameCodec(known, mimeType))) found.push(mimeType);
  }
  return found;
}

function brightest(video: HTMLVideoElement | null): number {
  if (!video || !drawing || video.readyState < 2 || video.videoWidth === 0) return 0;
  drawing.drawImage(video, 0, 0, canvas.width, canvas.height);
  const { data } = drawing.getImageData(0, 0, canvas.width, canvas.height);
  let max = 0;
  for (let i = 0; i < data.length; i += 4) {
    max = Math.max(max, 0.2126 * (data[i] ?? 0) + 0.7152 * (data[i + 1] ?? 0) + 0.0722 * (data[i + 2] ?? 0));
  }
  return Math.round(max);
}

let endpoint: Endpoint | null = null;
const current = (): Endpoint => {
  if (!endpoint) throw new Error('no endpoint: call create first');
  return endpoint;
};
const remoteOf = (peerId: string): Remote => {
  const remote = current().remotes.get(peerId);
  if (!remote) throw new Error(`no peer ${peerId}`);
  return remote;
};

const poolHarness = {
  create(name: string): void {
    endpoint = new Endpoint(name);
  },
  /** Joins `pool`; with `openOnPeer`, opens `from-NAME` toward every peer as soon as it is announced. */
  join(pool: string, openOnPeer: boolean): Promise<string> {
    return current().join(pool, openOnPeer);
  },
  leave(): void {
    current().leave();
  },
  /** Holds outgoing descriptions and candidates until `release`, in order. */
  hold(): void {
    current().holding = true;
  },
  release(): void {
    current().release();
  },
  /** Opens a channel labelled `label` to `peerId` (not waiting for it to open). */
  openChannel(peerId: string, label: string): void {
    const remote = remoteOf(peerId);
    const channel = remote.connection.dataChannel(label, undefined, true);
    remote.own.set(label, channel);
    collect(remote, channel);
  },
  /** Sends `text` on our channel `label` to `peerId`, or on the peer's channel of that label. */
  send(peerId: string, label: string, text: string): void {
    const remote = remoteOf(peerId);
    const channel = remote.own.get(label) ?? remote.remote.get(label);
    if (!channel) throw new Error(`no channel ${label} with ${peerId}`);
    channel.send(text);
  },
  /** Fake camera and microphone, shared with the pool (ManagedStream). */
  async startCamera(): Promise<string[]> {
    const self = current();
    if (!self.pool) throw new Error('not in a pool');
    self.camera = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    self.shared = new ManagedStream(self.camera, self.pool);
    return self.camera.getTracks().map((track) => track.kind);
  },
  mute(kind: 'audio' | 'video' | null): void {
    current().shared?.mute(kind);
  },
  unmute(kind: 'audio' | 'video' | null): void {
    current().shared?.unmute(kind);
  },
  /**
   * In one task: shares `count` more tracks (clones of the camera's video and
   * audio, alternately) and, with `restart`, restarts ICE on every connection.
   */
  burst(count: number, restart: boolean): void {
    const self = current();
    const [video] = self.camera?.getVideoTracks() ?? [];
    const [audio] = self.camera?.getAudioTracks() ?? [];
    if (!self.shared || !video || !audio) throw new Error('start the camera first');
    for (let i = 0; i < count; i += 1) {
      if (i === Math.floor(count / 2) && restart)
        for (const { connection } of self.remotes.values()) connection.restartIce();
      self.shared.addTrack((i % 2 === 0 ? video : audio).clone());
    }
    if (count === 0 && restart) for (const { connection } of self.remotes.values()) connection.restartIce();
  },
  restartIce(): void {
    for (const { connection } of current().remotes.values()) connection.restartIce();
  },
  /** The video codecs this browser can send and receive. */
  videoCodecs(): VideoCodecs {
    return {
      send: mediaCodecs(RTCRtpSender.getCapabilities('video')),
      receive: mediaCodecs(RTCRtpReceiver.getCapabilities('video')),
    };
  },
  /** The codec (mime type, `none` before one is known) of each inbound video stream from `peerId`, as getStats has it. */
  async inboundVideoCodecs(peerId: string): Promise<string[]> {
    const stats = await remoteOf(peerId).connection.getStats();
    const codecs: string[] = [];
    for (const report of stats.values()) {
      if (report.type === 'inbound-rtp' && report.kind === 'video') {
        codecs.push(String(stats.get(report.codecId)?.mimeType ?? 'none'));
      }
    }
    return codecs;
  },
  /**
   * The first codec of each video section the peer's current description
   * negotiates for our video transceivers toward `peerId` (`connection.remoteMedia`):
   * after our offer, the peer's answer, whose first codec is the one we send with.
   */
  answeredVideoCodecs(peerId: string): string[] {
    const { connection } = remoteOf(peerId);
    const sections = connection.remoteMedia;
    return videoSenders(connection.peerConnection).map(({ mid }) => {
      const [first] = sections.find((section) => section.mid === mid)?.codecs ?? [];
      return first ? `video/${first.split('/')[0]}` : 'none';
    });
  },
  /**
   * Drops the codec preferences of our video transceivers toward `peerId`
   * (`setCodecPreferences([])`: the browser's defaults again), without asking
   * for a negotiation. A preference orders what this side receives: as the
   * answerer, its own preferences order the answer, so a side that is to
   * follow the peer's new preference clears its own first.
   */
  clearCodecPreferences(peerId: string): number {
    const transceivers = videoSenders(remoteOf(peerId).connection.peerConnection);
    for (const transceiver of transceivers) transceiver.setCodecPreferences([]);
    return transceivers.length;
  },
  /**
   * Puts `mimeType` first in the codec preferences of every video
   * transceiver that sends to `peerId` (the rest of the receiver
   * capabilities follow in their order: setCodecPreferences takes only
   * those), then asks for a negotiation with `connection.negotiate()`: no
   * browser fires `negotiationneeded` for it. Returns how many transceivers
   * it changed; what the browser refuses is thrown.
   */
  preferCodec(peerId: string, mimeType: string): number {
    const { connection } = remoteOf(peerId);
    const pc = connection.peerConnection;
    const all = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
    const preferred = all.filter((codec) => sameCodec(codec.mimeType, mimeType));
    if (preferred.length === 0) throw new Error(`${mimeType} is not among this browser's receive codecs`);
    const order = [...preferred, ...all.filter((codec) => !sameCodec(codec.mimeType, mimeType))];
    const sending = videoSenders(pc);
    for (const transceiver of sending) transceiver.setCodecPreferences(order);
    connection.negotiate();
    return sending.length;
  },
  async sample(peerId: string): Promise<MediaSample> {
    const remote = remoteOf(peerId);
    let audioEnergy = 0;
    let frames = 0;
    for (const report of (await remote.connection.getStats()).values()) {
      if (report.type !== 'inbound-rtp') continue;
      if (report.kind === 'audio') audioEnergy += report.totalAudioEnergy ?? 0;
      else frames += report.framesDecoded ?? 0;
    }
    return {
      at: performance.now(),
      frames,
      luma: brightest(remote.video),
      audioEnergy,
      videoWidth: remote.video?.videoWidth ?? 0,
    };
  },
  status(): Promise<PoolStatus> {
    return current().status();
  },
};

export type PoolHarness = typeof poolHarness;

declare global {
  interface Window {
    poolHarness: PoolHarness;
  }
}

window.poolHarness = poolHarness;
