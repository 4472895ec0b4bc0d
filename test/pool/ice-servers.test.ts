/**
 * The Pool and the ICE servers the signalling server hands out: merged into
 * the configuration of every connection (the application's first, its other
 * fields kept), refreshed on `rtc:resumed` (existing connections through
 * `setConfiguration`, later ones at creation), kept out of the machines, and
 * a TURN server that cannot be used reported as an `ice-server-error` naming
 * the connection (from `icecandidateerror`, or from a gathering without a
 * relay candidate), on stand-in connections that fire what the stacks fire.
 */
import { Subject } from 'rxjs';
import { afterEach, describe, expect, test } from 'vitest';
import { Pool, type PoolOptions } from '../../src/pool.js';
import type { PoolEventData } from '../../src/pool-events.js';
import type { IceServer, ServerMessage } from '../../src/protocol/index.js';
import { type SimulatedEvent, SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

const TURN = 'turn:turn.example.org:3478?transport=udp';
const minted = (username: string): IceServer => ({ urls: [TURN], username, credential: `credential-of-${username}` });
const APP_STUN: RTCIceServer = { urls: 'stun:stun.app.example' };

/** A simulated connection with what the ICE handling reads: its configuration, and ICE events fired by the test. */
class ConfigurablePeerConnection extends SimulatedPeerConnection {
  static made: ConfigurablePeerConnection[] = [];
  /** `setConfiguration` calls, in order. */
  readonly set: RTCConfiguration[] = [];
  iceGatheringState = 'new';
  /** The configuration the pool made it with. */
  readonly created: RTCConfiguration;
  #configuration: RTCConfiguration;

  constructor(configuration: RTCConfiguration = {}) {
    super();
    this.created = configuration;
    this.#configuration = configuration;
    ConfigurablePeerConnection.made.push(this);
  }

  getConfiguration(): RTCConfiguration {
    return { ...this.#configuration, bundlePolicy: 'balanced' };
  }

  setConfiguration(configuration: RTCConfiguration): void {
    this.set.push(configuration);
    this.#configuration = configuration;
  }

  /** The local ICE ufrag to report, as if a description with it had been set. */
  ufrag: string | undefined;

  override get localDescription() {
    return this.ufrag === undefined
      ? super.localDescription
      : { type: 'offer' as const, sdp: `a=ice-ufrag:${this.ufrag}\r\n` };
  }

  fire(type: string, fields: Record<string, unknown> = {}): void {
    if (type === 'icegatheringstatechange') this.iceGatheringState = String(fields.state);
    this.dispatchEvent({ type, ...fields } as SimulatedEvent);
  }
}

const made = () => ConfigurablePeerConnection.made;
const pools: Pool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
  ConfigurablePeerConnection.made = [];
});

function start(
  config: RTCConfiguration,
  options: Omit<PoolOptions, 'RTCPeerConnection'> = {},
  PeerConnection: typeof ConfigurablePeerConnection = ConfigurablePeerConnection,
) {
  const messages = new Subject<ServerMessage>();
  const logged: string[] = [];
  const pool = new Pool(
    config,
    { messages, send: () => undefined, close: () => messages.complete() },
    {
      RTCPeerConnection: PeerConnection as never,
      logger: { log: (level, area, message) => logged.push(`${level} ${area} ${message}`) },
      ...options,
    },
  );
  pools.push(pool);
  const errors: Extract<PoolEventData, { type: 'error' }>[] = [];
  pool.events$.subscribe((event) => event.type === 'error' && errors.push(event));
  const join = async (peers: string[], iceServers?: IceServer[]) => {
    const joined = pool.join('room');
    const data = { client_id: 'me', peers, descriptions: {}, pool: 'room' };
    messages.next({ type: 'rtc:joined', data: iceServers ? { ...data, ice_servers: iceServers } : data });
    await joined;
  };
  return { pool, messages, logged, errors, join };
}

describe('the ICE servers of rtc:joined and rtc:resumed', () => {
  test("merged after the application's own, its other fields kept, before any connection is made", async () => {
    const config: RTCConfiguration = {
      iceServers: [APP_STUN],
      iceTransportPolicy: 'relay',
      bundlePolicy: 'max-bundle',
    };
    const { join, messages } = start(config);
    await join(['ada'], [minted('1:me')]);
    messages.next({ type: 'rtc:peer', data: { id: 'bob' } });
    expect(made().map(({ created }) => created)).toEqual([
      { iceServers: [APP_STUN, minted('1:me')], iceTransportPolicy: 'relay', bundlePolicy: 'max-bundle' },
      { iceServers: [APP_STUN, minted('1:me')], iceTransportPolicy: 'relay', bundlePolicy: 'max-bundle' },
    ]);
    // The application's object is left as it was.
    expect(config.iceServers).toEqual([APP_STUN]);
  });

  test('an application with no iceServers at all gets the server’s; a server with none changes nothing', async () => {
    const relayOnly = start({ iceTransportPolicy: 'relay' });
    await relayOnly.join(['ada'], [minted('1:me')]);
    expect(made()[0]?.created).toEqual({ iceTransportPolicy: 'relay', iceServers: [minted('1:me')] });

    const config: RTCConfiguration = { iceServers: [APP_STUN] };
    const plain = start(config);
    await plain.join(['ada']);
    // The very object the application passed, as before this feature.
    expect(made()[1]?.created).toBe(config);
  });

  test('rtc:resumed with new ones: existing connections get them by setConfiguration, later ones are made with them', async () => {
    const { join, messages, pool, logged } = start({ iceServers: [APP_STUN], iceTransportPolicy: 'relay' });
    await join(['ada'], [minted('1:me')]);
    const [first] = made();
    messages.next({ type: 'rtc:resumed', data: { client_id: 'me', received: 0, ice_servers: [minted('2:me')] } });
    // The connection's current configuration (bundlePolicy, as its stack reports it) with the new servers.
    expect(first?.set).toEqual([
      { iceServers: [APP_STUN, minted('2:me')], iceTransportPolicy: 'relay', bundlePolicy: 'balanced' },
    ]);
    messages.next({ type: 'rtc:peer', data: { id: 'bob' } });
    expect(made()[1]?.created.iceServers).toEqual([APP_STUN, minted('2:me')]);
    // The same servers again, or none: nothing to do.
    messages.next({ type: 'rtc:resumed', data: { client_id: 'me', received: 0, ice_servers: [minted('2:me')] } });
    messages.next({ type: 'rtc:resumed', data: { client_id: 'me', received: 0 } });
    expect(first?.set).toHaveLength(1);
    expect(pool.connections).toHaveLength(2);
    expect(logged.filter((line) => line.startsWith('warn'))).toEqual([]);
  });

  test('a stack without setConfiguration, or one that throws, is left as it is: a warn line, the pool carries on', async () => {
    class Refusing extends ConfigurablePeerConnection {
      override setConfiguration(): void {
        throw new DOMException('cannot change that now', 'InvalidModificationError');
      }
    }
    const { join, messages, pool, logged, errors } = start({}, {}, Refusing);
    await join(['ada'], [minted('1:me')]);
    messages.next({ type: 'rtc:resumed', data: { client_id: 'me', received: 0, ice_servers: [minted('2:me')] } });
    expect(logged).toContainEqual(
      'warn pool connection to ada: new ICE servers not applied: InvalidModificationError: cannot change that now',
    );
    expect(errors).toEqual([]);
    messages.next({ type: 'rtc:peer', data: { id: 'bob' } });
    expect(pool.connections.map(({ id }) => id)).toEqual(['ada', 'bob']);
  });

  test("a stack that refuses the server's servers: the connection is made without them and an ice-server-error names it", async () => {
    class Picky extends ConfigurablePeerConnection {
      constructor(configuration: RTCConfiguration = {}) {
        if (configuration.iceServers?.some(({ urls }) => String(urls).includes('turn:'))) {
          throw new DOMException('bad TURN URL', 'SyntaxError');
        }
        super(configuration);
      }
    }
    const config: RTCConfiguration = { iceServers: [APP_STUN] };
    const { join, errors, pool } = start(config, {}, Picky);
    await join(['ada'], [minted('1:me')]);
    expect(made()[0]?.created).toBe(config);
    await until(() => errors.length > 0, 'the error event');
    expect(errors[0]?.connection).toBe(pool.getConnection('ada'));
    expect(errors[0]?.error.code).toBe('ice-server-error');
    expect(errors[0]?.error.message).toBe("connection to ada: the server's ICE servers were refused (bad TURN URL)");
  });

  test('the credentials stay out of the machines: no snapshot holds them', async () => {
    const { join, pool } = start({});
    await join(['ada'], [minted('1:me')]);
    const snapshot = JSON.stringify(pool.actor.getSnapshot().toJSON());
    expect(snapshot).toContain('ada');
    expect(snapshot).not.toContain('credential-of');
  });
});

describe('a TURN server that cannot be used is an ice-server-error naming the connection', () => {
  const relay = 'candidate:1 1 udp 41819903 127.0.0.1 51059 typ relay raddr 0.0.0.0 rport 0 generation 0';
  const host = 'candidate:2 1 udp 2122260223 192.0.2.2 40000 typ host generation 0';
  const candidate = (line: string) => ({ candidate: { candidate: line, sdpMid: '0' } });

  test('an icecandidateerror with a STUN error code (401), once per URL, code and credential', async () => {
    const { join, errors, pool, messages } = start({});
    await join(['ada'], [minted('1:me')]);
    const [pc] = made();
    pc?.fire('icegatheringstatechange', { state: 'gathering' });
    // What libwebrtc fires on a working machine too: 701 for every local interface of the other address family.
    pc?.fire('icecandidateerror', { errorCode: 701, errorText: 'STUN server address is incompatible.', url: 'stun:x' });
    for (const address of ['127.0.0.1', '192.0.2.2']) {
      pc?.fire('icecandidateerror', { errorCode: 401, errorText: 'Unauthorized', url: TURN, address });
    }
    pc?.fire('icegatheringstatechange', { state: 'complete' });
    pc?.fire('icecandidate', { candidate: null });
    expect(errors.map(({ error, connection }) => [error.code, error.message, connection])).toEqual([
      [
        'ice-server-error',
        `connection to ada: ICE server ${TURN} answered 401 Unauthorized: a wrong or expired TURN credential`,
        pool.getConnection('ada'),
      ],
    ]);
    // Another generation (a collision's answer after the rolled-back offer, or an ICE restart) with the same
    // credential meets the same refusal: not news, and no "no relay candidate" either (the round has its reason).
    if (pc) pc.ufrag = 'second';
    pc?.fire('icegatheringstatechange', { state: 'gathering' });
    pc?.fire('icecandidateerror', { errorCode: 401, errorText: 'Unauthorized.', url: TURN });
    pc?.fire('icegatheringstatechange', { state: 'complete' });
    pc?.fire('icecandidate', { candidate: null });
    expect(errors).toHaveLength(1);
    // A resume brings a new credential: refused too, that is news.
    messages.next({ type: 'rtc:resumed', data: { client_id: 'me', received: 0, ice_servers: [minted('2:me')] } });
    if (pc) pc.ufrag = 'third';
    pc?.fire('icegatheringstatechange', { state: 'gathering' });
    pc?.fire('icecandidateerror', { errorCode: 401, errorText: 'Unauthorized.', url: TURN });
    expect(errors).toHaveLength(2);
  });

  test('a gathering that ends without a relay candidate, with the last 7xx from the TURN URL', async () => {
    const { join, errors } = start({});
    await join(['ada'], [minted('1:me')]);
    const [pc] = made();
    pc?.fire('icegatheringstatechange', { state: 'gathering' });
    pc?.fire('icecandidate', candidate(host));
    pc?.fire('icecandidateerror', { errorCode: 701, errorText: 'TURN allocate request timed out.', url: TURN });
    // The end of a generation since replaced says nothing (the stack has moved on to gathering again)...
    pc?.fire('icecandidate', { candidate: null });
    expect(errors).toEqual([]);
    // ... the end of this one does.
    pc?.fire('icegatheringstatechange', { state: 'complete' });
    expect(errors.map(({ error }) => error.message)).toEqual([
      `connection to ada: no relay candidate from ${TURN} (gathering ended; last error 701 TURN allocate request timed out (${TURN})): the TURN server is unreachable or refused the credential`,
    ]);
  });

  test('a gathering that ends because a pair works (succeeded in the stats, ICE not yet connected) reports nothing', async () => {
    /** libwebrtc ends the gathering once a pair is writable; its iceConnectionState catches up a moment later. */
    class Writable extends ConfigurablePeerConnection {
      pairStates: string[] = [];
      async getStats() {
        return new Map(this.pairStates.map((state, i) => [`pair${i}`, { type: 'candidate-pair', state }]));
      }
    }
    const { join, errors } = start({}, {}, Writable);
    await join(['ada', 'bob'], [minted('1:me')]);
    const [working, stuck] = made() as Writable[];
    working?.pairStates.push('failed', 'succeeded');
    stuck?.pairStates.push('failed', 'in-progress');
    for (const pc of [working, stuck]) {
      pc?.fire('icegatheringstatechange', { state: 'gathering' });
      pc?.fire('icecandidate', candidate(host));
      pc?.fire('icegatheringstatechange', { state: 'complete' });
    }
    await until(() => errors.length > 0, 'the stuck connection reported');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors.map(({ error }) => error.message)).toEqual([
      `connection to bob: no relay candidate from ${TURN} (gathering ended): the TURN server is unreachable or refused the credential`,
    ]);
  });

  test('turnTimeoutMs without a relay candidate, even while the gathering goes on; a relay candidate in time is fine', async () => {
    const { join, errors, messages } = start({}, { turnTimeoutMs: 40 });
    await join(['ada'], [minted('1:me')]);
    const [slow] = made();
    slow?.fire('icegatheringstatechange', { state: 'gathering' });
    await until(() => errors.length > 0, 'the timeout');
    expect(errors[0]?.error.message).toBe(
      `connection to ada: no relay candidate from ${TURN} (none within 40 ms): the TURN server is unreachable or refused the credential`,
    );
    slow?.fire('icegatheringstatechange', { state: 'complete' }); // the end of it says nothing more
    messages.next({ type: 'rtc:peer', data: { id: 'bob' } });
    const fine = made()[1];
    fine?.fire('icegatheringstatechange', { state: 'gathering' });
    fine?.fire('icecandidate', candidate(relay));
    await new Promise((resolve) => setTimeout(resolve, 80));
    fine?.fire('icecandidate', { candidate: null });
    expect(errors).toHaveLength(1);
  });

  test('a generation is told by its ufrag: gathering again in it (a network change) reports nothing, a restart starts anew', async () => {
    const { join, errors } = start({}, { turnTimeoutMs: 30 });
    await join(['ada'], [minted('1:me')]);
    const [pc] = made();
    if (!pc) throw new Error('no connection');
    pc.ufrag = 'aaaa';
    pc.fire('icegatheringstatechange', { state: 'gathering' });
    pc.fire('icecandidate', { candidate: { candidate: relay, sdpMid: '0', usernameFragment: 'aaaa' } });
    pc.fire('icegatheringstatechange', { state: 'complete' });
    // The stack gathers again in the same generation: no new relay candidate (it has its allocation), no report.
    pc.fire('icegatheringstatechange', { state: 'gathering' });
    pc.fire('icecandidateerror', { errorCode: 701, errorText: 'STUN binding request timed out.', url: 'stun:x' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    pc.fire('icegatheringstatechange', { state: 'complete' });
    pc.fire('icecandidate', { candidate: null });
    expect(errors).toEqual([]);
    // An ICE restart: a new ufrag, a new generation, and this time no relay.
    pc.ufrag = 'bbbb';
    pc.fire('icegatheringstatechange', { state: 'gathering' });
    pc.fire('icecandidate', { candidate: { candidate: `${host} ufrag bbbb`, sdpMid: '0', usernameFragment: 'bbbb' } });
    // A late relay candidate of the generation before does not count for this one.
    pc.fire('icecandidate', { candidate: { candidate: relay, sdpMid: '0', usernameFragment: 'aaaa' } });
    await until(() => errors.length > 0, 'the timeout of the new generation');
    expect(errors[0]?.error.message).toContain('(none within 30 ms)');
  });

  test('no TURN server, nothing to report; the watch ends with the connection', async () => {
    const { join, errors, messages } = start({ iceServers: [APP_STUN] }, { turnTimeoutMs: 20 });
    await join(['ada']);
    const [pc] = made();
    pc?.fire('icegatheringstatechange', { state: 'gathering' });
    pc?.fire('icecandidate', { candidate: null });
    expect(errors).toEqual([]);

    const listening = (one: ConfigurablePeerConnection | undefined) =>
      ['icegatheringstatechange', 'icecandidate', 'icecandidateerror'].map((type) => one?.listenerCount(type));
    messages.next({ type: 'rtc:peer', data: { id: 'bob' } });
    const bob = made()[1];
    expect(listening(bob)).toEqual([1, 2, 1]); // the negotiation listens to icecandidate too
    messages.next({ type: 'rtc:close', data: { id: 'bob' } });
    expect(listening(bob)).toEqual([0, 0, 0]);
  });
});
