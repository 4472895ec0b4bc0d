/**
 * Runs inside Chromium: one rtcpool endpoint, written the way the README
 * tells an application to. A `Pool` over the server's raw WebSocket; on every
 * `peer` event the page asks for a data channel labelled `bench`.
 *
 * Which side opens (`?open=` in the page's URL):
 *
 * - `every` (the default, what the README shows): every page opens `bench` on
 *   every connection, so a pair ends up with two channels of that label, one
 *   created by each side. The page counts its pair with a peer as open as
 *   soon as either is open here: its own (`dataChannel()` resolved) or the
 *   peer's (a `datachannel` event whose channel is open). The two open within
 *   a millisecond of each other once the SCTP association is up.
 * - `newer`: a page opens `bench` only toward peers that joined after it (the
 *   ones announced by a later `peer` event), and waits for the channel of the
 *   peers that were there first: exactly the floor's roles. The application
 *   has to know the join order for this, which rtcpool otherwise hides.
 *
 * rtcpool itself is imported from `/rtcpool.js`, the browser build
 * (dist/browser/rtcpool.js): server.ts bundles this file with that import
 * left external.
 */
import { type ClientMessage, Pool, Signalling, type SignallingChannel } from '../../src/index.js';
import { expose, type Report, signallingUrl, whenOpen } from './page-common.js';

const CHANNEL = 'bench';
const query = new URLSearchParams(location.search);
const openMode = query.get('open') === 'newer' ? 'newer' : 'every';
/** `?trace=1` (`--trace`): keep a per-peer log of signalling and connection events for `debug`; off when timed. */
const tracing = query.get('trace') === '1';

const socket = new WebSocket(signallingUrl());
const signalling = new Signalling.websocket(socket);
/** Set when the round starts; nothing is reported before. */
let report: Report = { joined: () => undefined, mark: () => undefined, fail: () => undefined };

/** Per peer, what crossed the signalling channel and what its connection did, for `debug` (with `?trace=1`). */
const trace = new Map<string, string[]>();
const started = performance.now();
const note = (peer: string, what: string) => {
  if (!tracing) return;
  const lines = trace.get(peer) ?? [];
  lines.push(`${Math.round(performance.now() - started)} ${what}`);
  trace.set(peer, lines);
};
const ufragOf = (sdp: string) => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? '-';
/** A trickled candidate as the trace shows it: its ufrag and address:port, or `null` for the end of candidates. */
const candidateText = (candidate: { candidate: string; usernameFragment?: string | null } | null) =>
  candidate === null
    ? 'null'
    : `${candidate.usernameFragment} ${candidate.candidate.split(' ').slice(4, 6).join(':') || 'end'}`;

// Subscribed before the pool is, so an arriving description is marked before the pool acts on it.
signalling.messages.subscribe((message) => {
  if (message.type === 'rtc:sdp') {
    report.mark(`${message.data.description.type}-received`, message.data.peer);
    note(message.data.peer, `in ${message.data.description.type} ${ufragOf(message.data.description.sdp)}`);
  }
  if (message.type === 'rtc:candidate') {
    note(message.data.from, `in cand ${candidateText(message.data.candidate)}`);
  }
});

/** The signalling channel as the pool sees it, with outgoing descriptions marked on the way out. */
const channel: SignallingChannel = {
  messages: signalling.messages,
  errors: signalling.errors,
  send(message: ClientMessage) {
    if (message.type === 'rtc:sdp') {
      report.mark(`${message.data.description.type}-sent`, message.data.to);
      note(message.data.to, `out ${message.data.description.type} ${ufragOf(message.data.description.sdp)}`);
    }
    if (message.type === 'rtc:candidate') {
      note(message.data.for, `out cand ${candidateText(message.data.candidate)}`);
    }
    signalling.send(message);
  },
  close: () => signalling.close(),
};

// Made before the round starts, as the floor's page is: the clock covers joining and negotiating only.
const pool = new Pool({ iceServers: [] }, channel);
/** True once `join()` resolved: every `peer` event after that is a newcomer. */
let joined = false;

/** The data channels each connection has seen: the peer's as they arrive, ours once open; for `debug`. */
const channelsOf = new Map<string, Set<RTCDataChannel>>();
const remember = (peer: string, channel: RTCDataChannel) =>
  channelsOf.set(peer, (channelsOf.get(peer) ?? new Set()).add(channel));

pool.events.onpeer = ({ detail: { connection } }) => {
  const pc = connection.peerConnection;
  pc.addEventListener('datachannel', ({ channel }) => remember(connection.id, channel));
  if (tracing) {
    pc.addEventListener('signalingstatechange', () => note(connection.id, `signaling ${pc.signalingState}`));
    pc.addEventListener('iceconnectionstatechange', () => note(connection.id, `ice ${pc.iceConnectionState}`));
    pc.addEventListener('icegatheringstatechange', () => note(connection.id, `gathering ${pc.iceGatheringState}`));
    pc.addEventListener('icecandidate', ({ candidate }) =>
      note(
        connection.id,
        `gathered ${candidate ? `${candidate.usernameFragment} ${candidate.address}:${candidate.port}` : 'null'}`,
      ),
    );
  }
  if (openMode === 'newer' && !joined) return; // it was here first: it opens, we wait
  connection.dataChannel(CHANNEL).then(
    (channel) => {
      remember(connection.id, channel as RTCDataChannel);
      report.mark('open', connection.id);
    },
    (error: unknown) => report.fail(String(error)),
  );
};
pool.events.ondatachannel = ({ detail: { connection, channel } }) => {
  if (channel.label === CHANNEL) whenOpen(channel as RTCDataChannel, () => report.mark('open', connection.id));
};
pool.events.onerror = ({ detail: { error } }) => report.fail(`${error.name}: ${error.message}`);

expose({
  ready: new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('signalling WebSocket failed')), { once: true });
  }),
  join(poolName, given) {
    report = given;
    pool.join(poolName).then(
      (id) => {
        joined = true;
        report.joined(id);
      },
      (error: unknown) => report.fail(String(error)),
    );
  },
  debug: () =>
    Object.fromEntries(
      pool.connections.map((connection) => {
        const pc = connection.peerConnection;
        const channels = [...(channelsOf.get(connection.id) ?? [])].map(
          ({ label, id, readyState }) => `${label}#${id}:${readyState}`,
        );
        return [
          connection.id,
          `negotiation ${JSON.stringify(connection.negotiationState)}, signaling ${pc.signalingState}, ` +
            `connection ${pc.connectionState}, ice ${pc.iceConnectionState}, sctp ${pc.sctp?.state ?? 'none'}, ` +
            `channels ${channels.join(' ') || 'none'}; local ${pc.localDescription?.type} ` +
            `${(pc.localDescription?.sdp.match(/^m=/gm) ?? []).length} m, remote ${pc.remoteDescription?.type} ` +
            `${(pc.remoteDescription?.sdp.match(/^m=/gm) ?? []).length} m; trace: ${(trace.get(connection.id) ?? []).join(' | ')}`,
        ];
      }),
    ),
});
