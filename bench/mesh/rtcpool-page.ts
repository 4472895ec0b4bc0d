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
const openMode = new URLSearchParams(location.search).get('open') === 'newer' ? 'newer' : 'every';

const socket = new WebSocket(signallingUrl());
const signalling = new Signalling.websocket(socket);
/** Set when the round starts; nothing is reported before. */
let report: Report = { joined: () => undefined, mark: () => undefined, fail: () => undefined };

// Subscribed before the pool is, so an arriving description is marked before the pool acts on it.
signalling.messages.subscribe((message) => {
  if (message.type === 'rtc:sdp') report.mark(`${message.data.description.type}-received`, message.data.peer);
});

/** The signalling channel as the pool sees it, with outgoing descriptions marked on the way out. */
const channel: SignallingChannel = {
  messages: signalling.messages,
  errors: signalling.errors,
  send(message: ClientMessage) {
    if (message.type === 'rtc:sdp') report.mark(`${message.data.description.type}-sent`, message.data.to);
    signalling.send(message);
  },
  close: () => signalling.close(),
};

// Made before the round starts, as the floor's page is: the clock covers joining and negotiating only.
const pool = new Pool({ iceServers: [] }, channel);
/** True once `join()` resolved: every `peer` event after that is a newcomer. */
let joined = false;

pool.events.onpeer = ({ detail: { connection } }) => {
  if (openMode === 'newer' && !joined) return; // it was here first: it opens, we wait
  connection.dataChannel(CHANNEL).then(
    () => report.mark('open', connection.id),
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
});
