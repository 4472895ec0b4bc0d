/**
 * The floor: the least WebSocket relay that speaks the same frames as ours,
 * on the same `ws` library with the same limits. A join puts the socket in a
 * pool and answers with an id (a UUID, as ours hands out, so frames weigh the
 * same); a relay looks the target up in the sender's pool and forwards the
 * payload with the sender's id. No validation, no rate limit, no heartbeat,
 * no events, no descriptions: whatever ours costs beyond this is its own.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

interface Member {
  id: string;
  name: string;
  pool: Map<string, WebSocket>;
}

/** Read without checking: the floor trusts its clients. */
interface BareData {
  pool: string;
  to: string;
  for: string;
  description: unknown;
  candidate: unknown;
}

export interface BareRelay {
  readonly port: number;
  /** Frames forwarded so far. */
  readonly relays: number;
  close(): Promise<void>;
}

export async function startBareRelay(maxMessageBytes: number): Promise<BareRelay> {
  const pools = new Map<string, Map<string, WebSocket>>();
  let relays = 0;
  const http = createServer((_, response) => response.writeHead(404).end());
  const server = new WebSocketServer({ server: http, path: '/ws', maxPayload: maxMessageBytes, clientTracking: false });
  server.on('connection', (ws) => {
    let member: Member | null = null;
    ws.on('message', (raw: RawData) => {
      const { type, data } = JSON.parse(raw.toString()) as { type: string; data: BareData };
      if (type === 'rtc:join') {
        if (member) return;
        const name = data.pool;
        const pool = pools.get(name) ?? new Map<string, WebSocket>();
        pools.set(name, pool);
        member = { id: randomUUID(), name, pool };
        ws.send(
          JSON.stringify({ type: 'rtc:joined', data: { client_id: member.id, peers: [...pool.keys()], pool: name } }),
        );
        const peer = JSON.stringify({ type: 'rtc:peer', data: { id: member.id } });
        for (const other of pool.values()) other.send(peer);
        pool.set(member.id, ws);
        return;
      }
      if (!member) return;
      const target = member.pool.get(type === 'rtc:sdp' ? data.to : data.for);
      if (!target) return;
      relays += 1;
      target.send(
        type === 'rtc:sdp'
          ? JSON.stringify({ type, data: { peer: member.id, description: data.description } })
          : JSON.stringify({ type, data: { from: member.id, candidate: data.candidate } }),
      );
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (!member) return;
      member.pool.delete(member.id);
      if (member.pool.size === 0) pools.delete(member.name);
      const close = JSON.stringify({ type: 'rtc:close', data: { id: member.id } });
      for (const other of member.pool.values()) other.send(close);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    get relays() {
      return relays;
    },
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
