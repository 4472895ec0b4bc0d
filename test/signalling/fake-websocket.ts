import type { WebSocketLike } from '../../src/signalling/index.js';

type Listener = (event: { data: unknown }) => void;

/** A scripted WebSocket: the test opens it, delivers frames and closes it. */
export class FakeWebSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: string[] = [];
  closeCalls = 0;
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

  close(): void {
    this.closeCalls++;
    this.readyState = 2;
  }

  open(): void {
    this.readyState = 1;
    this.#emit('open', undefined);
  }

  deliver(data: unknown): void {
    this.#emit('message', data);
  }

  /** The socket is gone (the server hung up or the network failed). */
  drop(type: 'close' | 'error' = 'close'): void {
    this.readyState = 3;
    this.#emit(type, undefined);
  }

  #emit(type: string, data: unknown): void {
    for (const listener of this.#listeners.get(type) ?? []) listener({ data });
  }
}
