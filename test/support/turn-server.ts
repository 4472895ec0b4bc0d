/**
 * coturn on 127.0.0.1 for the TURN tests: test/support/coturn.ts (the NAT
 * tests' module) started on ports picked here, since coturn cannot listen
 * on port 0. A port is picked by binding it (UDP and TCP, as coturn listens
 * on both) and letting go; another process may take it in between, so a
 * start that fails is retried on other ports. The relay range is 100 ports
 * below Linux's ephemeral range (32768 on), at a random place, so that two
 * runs at once rarely share one (coturn skips a relay port in use anyway).
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { afterEach } from 'vitest';
import { type Coturn, startCoturn } from './coturn.js';

const LOOPBACK = '127.0.0.1';

/** A port free for UDP and TCP on 127.0.0.1 at the time of asking. */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const socket = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, LOOPBACK, () => resolve(socket.address().port));
    });
    const tcp = createServer();
    const tcpFree = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, LOOPBACK, () => resolve(true));
    });
    await new Promise<void>((resolve) => (tcpFree ? tcp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (tcpFree) return port;
  }
}

/**
 * Starts coturn with TURN REST authentication under `secret`, relaying
 * between loopback peers; stopped after the test unless the test stops it.
 */
export async function startTurnServer(secret: string, attempts = 3): Promise<Coturn> {
  let failure: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = await freeUdpPort();
    const minPort = 20_000 + Math.floor(Math.random() * 120) * 100;
    try {
      const coturn = await startCoturn({
        address: LOOPBACK,
        port,
        minPort,
        maxPort: minPort + 99,
        secret,
        allowLoopbackPeers: true,
        startTimeoutMs: 5_000,
      });
      running.add(coturn);
      return coturn;
    } catch (error) {
      failure = error; // the port was taken meanwhile, most likely: pick others
    }
  }
  throw failure;
}

const running = new Set<Coturn>();
afterEach(async () => {
  await Promise.all([...running].map((coturn) => coturn.stop()));
  running.clear();
});
