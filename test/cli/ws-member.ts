/**
 * A pool member over the raw WebSocket transport (npm `ws`), recording every
 * frame it receives: enough to show that the signalling server still relays.
 */
import { WebSocket } from 'ws';

export interface Frame {
  type: string;
  data: Record<string, unknown>;
}

export interface Member {
  /** The id the server gave it in `rtc:joined`. */
  id: string;
  frames: Frame[];
  send(type: string, data: unknown): void;
  /** The first frame of `type` received after `since` frames, waiting up to `timeoutMs` for it. */
  next(type: string, since?: number, timeoutMs?: number): Promise<Frame>;
  close(): void;
}

/** Connects to `ws://.../ws` of the page URL `base` and joins `pool`; resolves once `rtc:joined` arrived. */
export async function joinPool(base: string, pool: string): Promise<Member> {
  const socket = new WebSocket(`${base.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`);
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (raw) => {
    frames.push(JSON.parse(String(raw)) as Frame);
    for (const wake of waiters) wake();
  });
  socket.on('close', () => {
    for (const wake of waiters) wake();
  });
  const next = (type: string, since = 0, timeoutMs = 5_000) =>
    new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const found = frames.slice(since).find((frame) => frame.type === type);
        if (found) return finish(() => resolve(found));
        if (socket.readyState >= WebSocket.CLOSING) {
          return finish(() => reject(new Error(`closed before ${type}; got ${frames.map((f) => f.type)}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${type} in ${timeoutMs} ms; got ${frames.map((f) => f.type)}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const send = (type: string, data: unknown) => socket.send(JSON.stringify({ type, data }));
  send('rtc:join', { pool });
  const joined = await next('rtc:joined');
  return { id: String(joined.data.client_id), frames, send, next, close: () => socket.close() };
}
