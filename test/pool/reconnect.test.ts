/**
 * The Pool through a signalling outage, over a scripted transceiver: the
 * connection is lost (`reconnecting`), resumed (`reconnected`) with the peer
 * connection untouched and what the pool sent meanwhile delivered after the
 * resume; or not resumed, and the pool ends cleanly, saying why.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Pool } from '../../src/pool.js';
import { PoolError, type PoolEventData } from '../../src/pool-events.js';
import { Signalling, Transceiver } from '../../src/signalling/index.js';
import { SimulatedPeerConnection } from '../support/simulated-peer-connection.js';
import { until } from '../support/wait.js';

/** A transceiver the test drives: what the pool sends is recorded; the test delivers, drops and restores. */
class ScriptedTransceiver extends Transceiver {
  readonly sent: { type: string; data: unknown }[] = [];
  up = true;

  override send(type: string, data: unknown): void {
    if (this.closed) throw new Error('closed');
    if (!this.up) throw new Error('sent while offline: Signalling should have held it');
    this.sent.push({ type, data });
  }

  override close(): void {
    if (!this.closed) super.close();
  }

  deliver(type: string, data: unknown): void {
    this.receive(type, data);
  }

  drop(): void {
    this.up = false;
    this.disconnected();
  }

  restore(): void {
    this.up = true;
    this.connected();
  }

  types(from = 0): string[] {
    return this.sent.slice(from).map(({ type }) => type);
  }
}

const pools: Pool[] = [];
afterEach(() => {
  for (const pool of pools.splice(0)) pool.close();
});

const created: SimulatedPeerConnection[] = [];
class RecordedPeerConnection extends SimulatedPeerConnection {
  constructor(configuration?: object) {
    super(configuration as never);
    created.push(this);
  }
}

/** A pool joined (with a resume grant) and connected to one peer, `ada`, whose offer it has sent. */
async function joinedPool() {
  const transceiver = new ScriptedTransceiver();
  const signalling = new Signalling(transceiver);
  const pool = new Pool({ iceServers: [] }, signalling, { RTCPeerConnection: RecordedPeerConnection as never });
  pools.push(pool);
  const seen: PoolEventData[] = [];
  pool.events$.subscribe((event) => seen.push(event));
  const joining = pool.join('room');
  transceiver.deliver('rtc:joined', {
    client_id: 'me',
    peers: [],
    descriptions: {},
    pool: 'room',
    resume: { token: 'secret', window_ms: 60_000 },
  });
  await joining;
  transceiver.deliver('rtc:peer', { id: 'ada' });
  await until(() => transceiver.types().includes('rtc:sdp'), 'the offer to ada');
  return { transceiver, signalling, pool, seen };
}

describe('Pool during a signalling outage', () => {
  test('reconnecting, then reconnected: the connection is untouched, signals sent meanwhile go after the resume', async () => {
    const { transceiver, signalling, pool, seen } = await joinedPool();
    const connection = pool.getConnection('ada');
    const pc = created.at(-1) as SimulatedPeerConnection;
    let onreconnecting = 0;
    pool.events.onreconnecting = () => onreconnecting++;

    // What the pool hands to Signalling, whether or not it goes out at once.
    const handed: { type: string; data: unknown }[] = [];
    const send = signalling.send.bind(signalling);
    signalling.send = (message) => {
      handed.push(message);
      send(message);
    };
    const sessionFrames = transceiver.types().slice(1); // after rtc:join
    transceiver.drop();
    expect(seen.at(-1)).toEqual({ type: 'reconnecting' });
    expect(onreconnecting).toBe(1);
    expect(signalling.state).toBe('offline');
    const sentBefore = transceiver.sent.length;
    // ada's answer comes through the server; then new media needs a new offer: both sides' signals wait.
    const offer = transceiver.sent.find(({ type }) => type === 'rtc:sdp')?.data as { description: object };
    const answerer = new SimulatedPeerConnection();
    await answerer.setRemoteDescription(offer.description as never);
    transceiver.deliver('rtc:sdp', { peer: 'ada', description: await answerer.createAnswer() });
    await until(() => pc.signalingState === 'stable', 'the answer applied');
    pc.addTransceiver('audio');
    await until(() => handed.some(({ type }) => type === 'rtc:sdp'), 'the new offer, handed to Signalling');
    expect(transceiver.sent.length).toBe(sentBefore); // nothing went out while offline

    transceiver.restore();
    expect(transceiver.types(sentBefore)).toEqual(['rtc:resume']);
    // Two server frames since rtc:joined: rtc:peer and ada's answer.
    expect(transceiver.sent.at(-1)?.data).toEqual({ id: 'me', token: 'secret', received: 2 });
    transceiver.deliver('rtc:resumed', { client_id: 'me', received: 1 });
    expect(seen.at(-1)).toEqual({ type: 'reconnected' });
    // The server had the first session frame (the offer): the rest, then what was queued, in order.
    const session = [...sessionFrames, ...handed.map(({ type }) => type)];
    expect(transceiver.types(sentBefore + 1)).toEqual(session.slice(1));
    expect(transceiver.sent.slice(sentBefore + 1).slice(-handed.length)).toEqual(handed);
    expect(pool.getConnection('ada')).toBe(connection);
    expect(pc.signalingState).not.toBe('closed');
    expect(seen.filter(({ type }) => type === 'close' || type === 'error')).toEqual([]);
  });

  test('the resume refused: an error says why, then close (null); every connection closed; the streams complete', async () => {
    const { transceiver, pool, seen } = await joinedPool();
    const pc = created.at(-1) as SimulatedPeerConnection;
    let completed = false;
    pool.events$.subscribe({ complete: () => (completed = true) });
    let closedWith: unknown = 'not yet';
    pool.events.onclose = ({ detail }) => {
      closedWith = detail;
    };
    transceiver.drop();
    transceiver.restore();
    transceiver.deliver('rtc:error', { message: 'no such session', reason: 'resume-refused' });
    const [error, close] = seen.slice(-2);
    expect(error).toEqual({ type: 'error', error: expect.any(PoolError), connection: null });
    expect(error?.type === 'error' && error.error).toMatchObject({
      code: 'signalling-lost',
      message: expect.stringMatching(/^resume-refused: .*no such session/),
    });
    expect(close).toEqual({ type: 'close', connection: null });
    expect(closedWith).toBeNull();
    expect(pool.nconnections).toBe(0);
    expect(pc.signalingState).toBe('closed');
    expect(completed).toBe(true);
    expect(transceiver.closed).toBe(true);
    expect(pool.actor.getSnapshot().value).toBe('disconnected');
  });

  test('a channel that closes without resuming (no reconnecting transport) ends the pool the same way', async () => {
    const { transceiver, pool, seen } = await joinedPool();
    transceiver.close();
    expect(seen.slice(-2).map(({ type }) => type)).toEqual(['error', 'close']);
    expect(seen.at(-2)).toMatchObject({
      error: { code: 'signalling-lost', message: expect.stringMatching(/^connection-lost/) },
    });
    expect(pool.nconnections).toBe(0);
  });

  test('pool.close() while reconnecting: one close (null), no error', async () => {
    const { transceiver, signalling, pool, seen } = await joinedPool();
    transceiver.drop();
    pool.close();
    expect(seen.map(({ type }) => type).filter((type) => type !== 'peer' && type !== 'join')).toEqual([
      'reconnecting',
      'close',
    ]);
    expect(signalling.closed).toBe(true);
    expect(signalling.closeReason).toBeUndefined();
  });

  test("server frames named like the transport's own states change nothing: no reconnecting, no resume, no end", async () => {
    const { transceiver, signalling, pool, seen } = await joinedPool();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const before = seen.length;
      // Whatever a server (or a relay of client-chosen names) sends, by either path a transceiver has for server events.
      for (const name of ['offline', 'online', 'open', 'close', 'closed']) {
        transceiver.deliver(name, {});
        transceiver.dispatchEvent(new CustomEvent(name, { detail: {} }));
      }
      const reported = seen.slice(before);
      expect(reported.map(({ type }) => type)).toEqual(Array(10).fill('error'));
      expect(reported.every((event) => event.type === 'error' && event.error.code === 'unknown-event')).toBe(true);
      expect(signalling.state).toBe('online');
      expect(transceiver.types().filter((type) => type === 'rtc:resume')).toEqual([]);
      // Past any resume window: the pool is still joined, its channel and connection open.
      vi.advanceTimersByTime(120_000);
      expect(pool.actor.getSnapshot().value).toBe('joined');
      expect(signalling.closed).toBe(false);
      expect(pool.getConnection('ada')).toBeDefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
