/**
 * Backpressure in Redis mode: a process whose Redis falls behind stops reading
 * its connections instead of taking in frames it cannot pass on. Here Redis is
 * a real redis-server behind a TCP proxy that freezes (nothing passes, nothing
 * closes), so every operation the server sends stays unanswered: past
 * `maxInFlight` of them, the server stops reading, the client's frames wait in
 * its socket, and once Redis answers again they are all read and relayed, in
 * order, none lost. Over both transports.
 */
import { afterEach, expect, test } from 'vitest';
import { redisForFile } from '../../support/redis.js';
import { type IoClient, type RawClient, serverHarness } from '../../support/server-client.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { until } from '../../support/wait.js';

const redis = redisForFile();
const harness = serverHarness();
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const MAX_IN_FLIGHT = 4;
const FRAMES = 30;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.each(['websocket', 'socket.io'] as const)(
  'over %s: past maxInFlight unanswered operations the server stops reading; when Redis answers, every frame is relayed in order',
  async (transport) => {
    const proxy = await TcpProxy.start(redis.port);
    proxies.push(proxy);
    const server = await harness.start({
      redis: { url: `redis://127.0.0.1:${proxy.port}`, maxInFlight: MAX_IN_FLIGHT },
    });
    const connect = () => (transport === 'websocket' ? harness.raw(server.url) : harness.io(server.url));
    const sender: RawClient | IoClient = await connect();
    const receiver: RawClient | IoClient = await connect();
    await sender.join('room');
    const { client_id: to } = await receiver.join('room');
    await until(() => sender.all('rtc:peer').length === 1, 'the sender to hear of the receiver');

    proxy.freeze();
    // One frame at a time, so that each reaches the server on its own rather than all in one read.
    for (let n = 1; n <= FRAMES; n++) {
      sender.send('rtc:sdp', { to, description: { type: 'offer', sdp: `frame ${n}` } });
      await sleep(10);
    }
    await until(() => server.stats().pauses === 1, 'the server to stop reading');
    const read = server.stats().relays;
    await sleep(500);
    // Not reading: the frames after the first few wait in the socket, none refused.
    expect(server.stats().relays).toBe(read);
    expect(read).toBeLessThan(FRAMES);
    expect(read).toBeGreaterThanOrEqual(MAX_IN_FLIGHT - 1); // the join's own operations may count too
    expect(sender.all('rtc:error')).toEqual([]);

    proxy.thaw();
    await until(() => receiver.all('rtc:sdp').length === FRAMES, `${FRAMES} frames relayed`);
    const sdps = receiver.all('rtc:sdp').map(({ data }) => (data as { description: { sdp: string } }).description.sdp);
    expect(sdps).toEqual(Array.from({ length: FRAMES }, (_, i) => `frame ${i + 1}`));
    expect(sender.all('rtc:error')).toEqual([]);
    const { pauses, pausedMs, relays } = server.stats();
    expect(relays).toBe(FRAMES);
    expect(pauses).toBeGreaterThanOrEqual(1); // the frames read after the thaw may fill it again
    expect(pausedMs).toBeGreaterThanOrEqual(500);
  },
);
