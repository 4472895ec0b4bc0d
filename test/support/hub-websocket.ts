import type { Subscription } from 'rxjs';
import { encodeFrame, parseClientFrame } from '../../src/protocol/index.js';
import type { WebSocketLike } from '../../src/signalling/index.js';
import type { HubClient, MemoryHub } from './memory-hub.js';

type Listener = (event: { data: unknown }) => void;

/**
 * An open WebSocket to an in-memory {@link MemoryHub}: what the pool sends is
 * parsed by the "server" with the protocol's client parser, and what the hub
 * delivers arrives as the server's JSON text frame. Give it to
 * `Signalling.websocket`, so every frame goes through the real
 * `WebSocketTransceiver` and parser. {@link inject} delivers any raw frame
 * (text, bytes, anything a socket library might hand over), as a hostile
 * server would.
 */
export class HubWebSocket implements WebSocketLike {
  readyState = 1;
  readonly client: HubClient;
  readonly #listeners = new Map<string, Listener[]>();
  readonly #subscription: Subscription;

  constructor(hub: MemoryHub) {
    this.client = hub.connect();
    this.#subscription = this.client.messages.subscribe((message) => this.inject(encodeFrame(message)));
  }

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error(`HubWebSocket: send in readyState ${this.readyState}`);
    const parsed = parseClientFrame(data);
    if (!parsed.ok) throw parsed.error;
    this.client.send(parsed.message);
  }

  /** The client hangs up: the hub tells the others (`rtc:close`). */
  close(): void {
    if (this.readyState > 1) return;
    this.readyState = 3;
    this.#subscription.unsubscribe();
    this.client.leave();
    this.#emit('close', undefined);
  }

  /**
   * One frame from the "server", delivered now, whatever it is; even after
   * `close`, as a closing socket may still deliver late frames.
   */
  inject(data: unknown): void {
    this.#emit('message', data);
  }

  #emit(type: string, data: unknown): void {
    for (const listener of this.#listeners.get(type) ?? []) listener({ data });
  }
}
