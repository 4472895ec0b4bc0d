import type { WebSocketLike } from '../../src/signalling/index.js';

type Listener = (event: { data: unknown; code?: number }) => void;

/** A scripted WebSocket: the test opens it, delivers frames and closes it. */
export class FakeWebSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: string[] = [];
  closeCalls = 0;
  /** The code of each close() call (undefined when none was given). */
  readonly closeCodes: (number | undefined)[] = [];
  readonly #listeners = new Map<string, Listener[]>();

  constructor(readyState = 0) {
    this.readyState = readyState;
  }

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error(`send in readyState ${this.readyState}`);
    this.sent.push(data);
  }

  close(code?: number): void {
    this.closeCalls++;
    this.closeCodes.push(code);
    this.readyState = 2;
  }

  open(): void {
    this.readyState = 1;
    this.#emit('open', undefined);
  }

  deliver(data: unknown): void {
    this.#emit('message', data);
  }

  /** The socket is gone (the server hung up or the network failed): `close` carries `code` (none: as a fake that has none). */
  drop(type: 'close' | 'error' = 'close', code?: number): void {
    this.readyState = 3;
    this.#emit(type, undefined, code);
  }

  /** The sent frames, parsed. */
  frames(): { type: string; data: unknown }[] {
    return this.sent.map((text) => JSON.parse(text));
  }

  #emit(type: string, data: unknown, code?: number): void {
    for (const listener of this.#listeners.get(type) ?? []) listener(code === undefined ? { data } : { data, code });
  }
}
