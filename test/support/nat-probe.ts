/**
 * Measures how a NAT maps a UDP flow, as a child process inside a network
 * namespace (`ip netns exec NS node --import tsx test/support/nat-probe.ts ...`).
 *
 * - `echo ADDRESS PORT...`: answers every datagram on each port with the
 *   sender's address as the echo saw it (`{"address":"...","port":N}`);
 *   prints `{"ready":true}` once every port is bound.
 * - `probe HOST:PORT...`: from one socket, asks each echo how it sees that
 *   socket; prints `{"local":N,"seen":[{"address","port"},...]}` and exits.
 *   Behind an endpoint-independent NAT every echo sees the same port; behind
 *   a symmetric one, each its own.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface ProbeResult {
  local: number;
  seen: Array<{ address: string; port: number }>;
}

function bound(socket: Socket, port: number, address?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

async function echo(address: string, ports: number[]): Promise<void> {
  await Promise.all(
    ports.map((port) => {
      const socket = createSocket('udp4');
      socket.on('message', (_message, from) =>
        socket.send(JSON.stringify({ address: from.address, port: from.port }), from.port, from.address),
      );
      return bound(socket, port, address);
    }),
  );
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}

async function probe(targets: string[]): Promise<void> {
  const socket = createSocket('udp4');
  await bound(socket, 0);
  const seen: ProbeResult['seen'] = [];
  for (const target of targets) {
    const [host = '', port = ''] = target.split(':');
    const answer = new Promise<{ address: string; port: number }>((resolve) =>
      socket.once('message', (message) => resolve(JSON.parse(message.toString()) as { address: string; port: number })),
    );
    // UDP may lose the first datagram (ARP on a fresh link): repeat until answered.
    const timer = setInterval(() => socket.send('?', Number(port), host), 100);
    socket.send('?', Number(port), host);
    seen.push(await answer);
    clearInterval(timer);
  }
  const result: ProbeResult = { local: socket.address().port, seen };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  socket.close();
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'echo') void echo(rest[0] ?? '0.0.0.0', rest.slice(1).map(Number));
else if (mode === 'probe') void probe(rest);
else {
  process.stderr.write('usage: nat-probe.ts echo ADDRESS PORT... | probe HOST:PORT...\n');
  process.exit(2);
}
