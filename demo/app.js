// @ts-check
/**
 * The rtcpool demo page. Each Join makes a fresh WebSocket, a `Signalling`
 * over it and a `Pool`; Leave closes the pool (which closes the rest). The
 * cards are small classes fed by the pool's events:
 *
 * - peers.js: the peer list, with stats.js: each connection's statistics, polled;
 * - negotiation.js + chart.js: each peer's machine, live;
 * - chat.js: one `chat` data channel per pair; media.js: camera, screen and remote tiles;
 * - notices.js: errors; inspector.js: the Stately inspector switch.
 *
 * The `data-testid` hooks are listed in README.md next to this file.
 */
import { Chat } from './chat.js';
import { byTestId, shortId } from './dom.js';
import { InspectorBridge } from './inspector.js';
import { Pool, Signalling } from './lib.js';
import { MediaPanel } from './media.js';
import { nameOf, randomName } from './names.js';
import { NegotiationView } from './negotiation.js';
import { Notices } from './notices.js';
import { PeerList } from './peers.js';
import { ConnectionStats } from './stats.js';

const DEFAULT_POOL = 'lobby';

/**
 * `idle` before the first join, `joining` until the server confirms,
 * `joined`, then `stopped` (the server stopped the pool) or `closed` (we
 * left, or the signalling connection was lost).
 *
 * @typedef {'idle' | 'joining' | 'joined' | 'stopped' | 'closed'} Status
 */

/**
 * One join: its socket, signalling channel and pool, and what we learnt.
 *
 * @typedef {object} Session
 * @property {import('./lib.js').PoolInstance} pool
 * @property {import('./lib.js').SignallingInstance} signalling
 * @property {WebSocket | null} socket the current one (a new one after each reconnect)
 * @property {string} name the display name sent in `?name=`
 * @property {string} requestedPool
 * @property {string} selfId '' until joined
 * @property {Set<string>} firstPeers the peers already present when we joined: they open the chat channels to us
 * @property {Array<{ message: string, reason?: string | undefined }>} serverErrors `rtc:error` frames not yet reported by the pool
 * @property {boolean} ended
 * @property {string | null} farewell why the page is closing the pool itself, when it is not the user's Leave
 * @property {boolean} describing a raw rtc:describe was sent and the server has not answered yet
 */

/** @typedef {import('../src/index.js').PoolEventDetails} PoolEventDetails */

const ui = {
  form: /** @type {HTMLFormElement} */ (byTestId('join-form')),
  poolInput: /** @type {HTMLInputElement} */ (byTestId('pool-input')),
  nameInput: /** @type {HTMLInputElement} */ (byTestId('name-input')),
  join: /** @type {HTMLButtonElement} */ (byTestId('join')),
  leave: /** @type {HTMLButtonElement} */ (byTestId('leave')),
  status: byTestId('status'),
  statusDetail: byTestId('status-detail'),
  stoppedBanner: byTestId('stopped-banner'),
  selfId: byTestId('self-id'),
  poolName: byTestId('pool-name'),
  invite: /** @type {HTMLButtonElement} */ (byTestId('invite')),
  describeInput: /** @type {HTMLInputElement} */ (byTestId('describe-input')),
  describeSend: /** @type {HTMLButtonElement} */ (byTestId('describe-send')),
  describeResult: byTestId('describe-result'),
  chatInput: /** @type {HTMLInputElement} */ (byTestId('chat-input')),
  chatSend: /** @type {HTMLButtonElement} */ (byTestId('chat-send')),
};

/** @type {Session | null} */
let session = null;

/**
 * Peers' names as last described, kept after they leave: the pool forgets a
 * departed peer's description before it reports the departure.
 *
 * @type {Map<string, string>}
 */
const knownNames = new Map();

const notices = new Notices(byTestId('errors'));
const peers = new PeerList(byTestId('peer-list'), byTestId('peer-count'));
const stats = new ConnectionStats({ onStats: (peerId, line) => peers.setStats(peerId, line) });
const negotiation = new NegotiationView({
  container: byTestId('machines'),
  poolState: byTestId('pool-state'),
  nameOf: peerName,
  onState: (peerId, state) => peers.setState(peerId, state),
});
const chat = new Chat({
  log: /** @type {HTMLOListElement} */ (byTestId('chat-log')),
  nameOf: peerName,
  onChannel: (peerId, state) => peers.setChannel(peerId, state),
});
const media = new MediaPanel({
  tiles: byTestId('tiles'),
  camera: /** @type {HTMLButtonElement} */ (byTestId('camera')),
  muteAudio: /** @type {HTMLButtonElement} */ (byTestId('mute-audio')),
  muteVideo: /** @type {HTMLButtonElement} */ (byTestId('mute-video')),
  screen: /** @type {HTMLButtonElement} */ (byTestId('screen')),
  nameOf: peerName,
  selfName: () => ui.nameInput.value.trim() || 'You',
  onError: (error) => notices.error(error),
  onNotice: (message) => notices.info(message),
});
const inspector = new InspectorBridge(/** @type {HTMLInputElement} */ (byTestId('inspector-switch')), notices);

/**
 * What to call a peer: the name in its server-set description, else its short id.
 *
 * @param {string} peerId
 */
function peerName(peerId) {
  const name = nameOf(session?.pool.getDescription(peerId) ?? null);
  if (name) knownNames.set(peerId, name);
  return name ?? knownNames.get(peerId) ?? shortId(peerId);
}

/**
 * @param {Status} status
 * @param {string} detail one human sentence about it
 */
function setStatus(status, detail) {
  ui.status.textContent = status;
  ui.status.dataset.status = status;
  document.body.dataset.status = status;
  ui.statusDetail.textContent = detail;
  const active = status === 'joining' || status === 'joined';
  ui.join.disabled = active;
  ui.leave.disabled = !active;
  ui.poolInput.disabled = active;
  ui.nameInput.disabled = active;
  for (const control of [ui.describeInput, ui.describeSend, ui.chatInput, ui.chatSend])
    control.disabled = status !== 'joined';
  ui.stoppedBanner.hidden = status !== 'stopped';
  ui.invite.hidden = status !== 'joined';
}

/** Joins the pool named in the form, on a fresh socket and a fresh Pool. */
function join() {
  if (session && !session.ended) return;
  const poolName = ui.poolInput.value.trim() || DEFAULT_POOL;
  const name = ui.nameInput.value.trim() || randomName();
  ui.poolInput.value = poolName;
  ui.nameInput.value = name;
  rememberInUrl(poolName, name);
  media.unlockAudio();
  ui.selfId.textContent = '';
  ui.poolName.textContent = '';
  ui.describeResult.textContent = '';
  negotiation.reset();
  inspector.reset();
  const current = openSession(poolName, name);
  session = current;
  media.attach(current.pool);
  media.renameSelf();
  setStatus('joining', `Asking the server to join “${poolName}”…`);
  // How it ends is told by the `close` and `stop` events; the promise adds nothing here.
  current.pool.join(poolName).catch(() => {});
}

/**
 * @param {string} poolName
 * @param {string} name
 * @returns {Session}
 */
function openSession(poolName, name) {
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // The server describes this endpoint to the others as { name } (clients cannot describe themselves).
  url.searchParams.set('name', name);
  // A factory, so that a lost connection is made again (with backoff) and the session resumed on it.
  /** @type {WebSocket | null} */
  let socket = null;
  const signalling = new Signalling.websocket(() => {
    socket = new WebSocket(url);
    return socket;
  });
  /** @type {Session['serverErrors']} */
  const serverErrors = [];
  // The pool reports an `rtc:error` as a PoolError('server-error') whose message folds in the reason.
  // Subscribed before the pool is made, this sees each frame first (a Subject calls its observers in
  // subscription order), so the error event can show the server's reason and message apart.
  signalling.messages.subscribe((message) => {
    if (message.type === 'rtc:error') serverErrors.push(message.data);
  });
  /** The session once made: the pool reports its first inspection events from its constructor, before. */
  /** @type {Session | null} */
  let made = null;
  const pool = new Pool({ iceServers: [] }, signalling, {
    inspect: (event) => {
      if (made && session !== made) return;
      negotiation.inspect(event);
      inspector.observe(event);
    },
  });
  /** @type {Session} */
  const current = {
    pool,
    signalling,
    get socket() {
      return socket;
    },
    name,
    requestedPool: poolName,
    selfId: '',
    firstPeers: new Set(),
    serverErrors,
    ended: false,
    farewell: null,
    describing: false,
  };
  made = current;
  listen(current);
  return current;
}

/**
 * Wires one session's pool events to the cards; events of an older session are ignored.
 *
 * @param {Session} current
 */
function listen(current) {
  const { pool } = current;
  /**
   * @template {keyof PoolEventDetails} K
   * @param {K} type
   * @param {(detail: PoolEventDetails[K]) => void} handler
   */
  const on = (type, handler) =>
    pool.events.addEventListener(type, (event) => {
      if (session === current) handler(/** @type {CustomEvent<PoolEventDetails[K]>} */ (event).detail);
    });

  on('join', ({ id, pool: joined }) => {
    current.selfId = id;
    // Connections exist for every peer already present before `join` is dispatched.
    current.firstPeers = new Set(pool.connections.map((connection) => connection.id));
    ui.selfId.textContent = id;
    ui.poolName.textContent = joined;
    const others = current.firstPeers.size;
    setStatus(
      'joined',
      others === 0 ? 'You are the first one here.' : `Connecting to ${others} ${others === 1 ? 'peer' : 'peers'}…`,
    );
    if (joined !== current.requestedPool)
      notices.info(`The server put you in pool “${joined}” (you asked for “${current.requestedPool}”).`);
    chat.notice(`You joined “${joined}” as ${current.name}.`);
  });
  on('peer', ({ connection }) => {
    const newcomer = !current.firstPeers.has(connection.id);
    peerName(connection.id); // remembers its name, if already described
    peers.add(connection);
    stats.watch(connection);
    chat.connect(connection, newcomer);
    if (newcomer) chat.notice('joined.', connection.id);
    updateCount();
  });
  on('describe', ({ connection, id, description }) => {
    if (!connection) return; // our own description: the name we sent
    peerName(id); // remembers the new name
    peers.describe(id, description);
    negotiation.rename(id);
    media.rename(id);
    chat.rename(id);
  });
  on('close', (connection) => {
    if (connection) removePeer(connection.id);
    else end(current, 'closed', current.farewell ?? 'You left the pool.');
  });
  on('stop', () => end(current, 'stopped', 'The server stopped the pool: every connection is closed.'));
  on('reconnecting', () => setStatus('joined', 'Lost the signalling server: reconnecting… (peers stay connected)'));
  on('reconnected', () => {
    updateCount();
    chat.notice('Back in touch with the signalling server: nothing was lost.');
  });
  on('track', ({ connection, track, streams }) => media.addTrack(connection, track, streams));
  on('datachannel', ({ connection, channel }) => chat.accept(connection, channel));
  on('error', ({ error }) => report(current, error));
}

/** @param {string} peerId */
function removePeer(peerId) {
  stats.unwatch(peerId);
  peers.remove(peerId);
  negotiation.remove(peerId);
  chat.remove(peerId);
  media.removePeer(peerId);
  chat.notice('left.', peerId);
  updateCount();
}

function updateCount() {
  if (!session || session.ended || !session.selfId) return;
  const count = session.pool.nconnections;
  ui.statusDetail.textContent =
    count === 0 ? 'You are the only one here.' : `In a full mesh with ${count} ${count === 1 ? 'peer' : 'peers'}.`;
}

/**
 * The session is over: by our own Leave, the server's stop, or a lost connection.
 *
 * @param {Session} current
 * @param {'stopped' | 'closed'} status
 * @param {string} detail
 */
function end(current, status, detail) {
  if (current.ended) return;
  current.ended = true;
  stats.reset();
  peers.clear();
  negotiation.reset();
  chat.reset();
  media.detach();
  chat.notice(detail);
  setStatus(status, detail);
}

/**
 * Shows an `error` event: a PoolError, a SignallingError or a peer's NegotiationError.
 *
 * @param {Session} current
 * @param {import('../src/index.js').PoolEventError} error
 */
function report(current, error) {
  if (error.code === 'signalling-lost') {
    // The pool ends itself next (its `close` follows): say why on the way out.
    current.farewell = 'Lost the signalling server for longer than it keeps a session: the pool is closed. Join again.';
  }
  if (error.code !== 'server-error') {
    notices.error({ code: error.code, message: error.message });
    return;
  }
  const sent = current.serverErrors.shift();
  notices.error({ code: error.code, reason: sent?.reason, message: sent?.message ?? error.message });
  if (current.describing) {
    // The server answers our rtc:describe with an error (whatever reason it gives, e.g. describe-forbidden).
    current.describing = false;
    ui.describeResult.textContent = `Refused by the server${sent?.reason ? ` (${sent.reason})` : ''}: ${sent?.message ?? error.message}`;
  }
  if (ui.status.textContent === 'joining') {
    // The only thing sent before joining is rtc:join: the server refused it (pool full, refused, unknown).
    current.farewell = `The server refused to join: ${sent?.message ?? error.message}.`;
    current.pool.close();
  }
}

/**
 * Sends a raw `rtc:describe` for ourselves, straight through the transceiver.
 * It is not a client message of the protocol: descriptions are trusted
 * because only the server sets them, so the demo server refuses this with
 * `rtc:error { reason: 'describe-forbidden' }`, which comes back as an
 * `error` event (see `report`).
 */
function describeMyself() {
  const current = session;
  const name = ui.describeInput.value.trim();
  if (!current || current.ended || !name) return;
  try {
    current.signalling.transceiver.send('rtc:describe', { id: current.selfId, description: { name } });
    current.describing = true;
    ui.describeResult.textContent = `Sent rtc:describe { name: "${name}" }. Waiting for the server…`;
  } catch (error) {
    notices.error({ code: 'signalling-closed', message: String(error) });
  }
}

/**
 * Puts the pool (and a name given in the URL) back into the address bar, so a reload rejoins the same pool.
 *
 * @param {string} poolName
 * @param {string} name
 */
function rememberInUrl(poolName, name) {
  const url = new URL(location.href);
  url.searchParams.set('pool', poolName);
  if (url.searchParams.has('name')) url.searchParams.set('name', name);
  url.searchParams.delete('autojoin');
  history.replaceState(null, '', url);
}

function copyInvite() {
  const link = new URL('/', location.href);
  link.searchParams.set('pool', ui.poolName.textContent ?? DEFAULT_POOL);
  navigator.clipboard.writeText(link.href).then(
    () => {
      ui.invite.textContent = 'Link copied';
      setTimeout(() => (ui.invite.textContent = 'Copy invite link'), 1500);
    },
    () => notices.info(`Invite link: ${link.href}`),
  );
}

function start() {
  const params = new URLSearchParams(location.search);
  ui.poolInput.value = params.get('pool')?.trim() || DEFAULT_POOL;
  ui.nameInput.value = params.get('name')?.trim() || randomName();
  setStatus('idle', 'Pick a pool and a name, then join.');

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    join();
  });
  ui.leave.addEventListener('click', () => session?.pool.close());
  ui.invite.addEventListener('click', copyInvite);
  /** @type {HTMLFormElement} */ (ui.describeInput.form).addEventListener('submit', (event) => {
    event.preventDefault();
    describeMyself();
  });
  /** @type {HTMLFormElement} */ (ui.chatInput.form).addEventListener('submit', (event) => {
    event.preventDefault();
    const text = ui.chatInput.value.trim();
    if (!text) return;
    if (chat.send(text) === 0) chat.notice('Nobody has an open chat channel yet: that one went nowhere.');
    ui.chatInput.value = '';
  });
  // The first click anywhere lets the sound meters run (see MediaPanel.unlockAudio).
  document.addEventListener('pointerdown', () => media.unlockAudio(), { once: true });
  // Leaving the page leaves the pool at once, rather than when the server notices the socket is gone.
  addEventListener('pagehide', () => session?.pool.close());

  // For the curious (and for tests): the current pool, from the console.
  Object.assign(window, {
    rtcpoolDemo: {
      get session() {
        return session;
      },
      /** How many connections have their statistics polled: 0 once every peer left or the pool ended. */
      get statsPolling() {
        return stats.size;
      },
    },
  });

  if (params.get('autojoin') === '1') join();
}

start();
