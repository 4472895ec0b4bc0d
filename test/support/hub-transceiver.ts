import type { Subscription } from 'rxjs';
import { encodeFrame, parseClientFrame } from '../../src/protocol/index.js';
import { Signalling, Transceiver } from '../../src/signalling/index.js';
import type { HubClient, MemoryHub } from './memory-hub.js';

/**
 * A transport to an in-memory {@link MemoryHub}, written the way an
 * application writes its own transceiver. Every message crosses as a JSON
 * text frame, as over a socket: what the pool sends is encoded here and parsed
 * by the "server" with the protocol's client parser (a frame it refuses is
 * thrown back to the sender, which a pool reports as an `error` event), and
 * what the hub delivers is encoded as the server's frame and decoded before
 * {@link Signalling} validates it.
 */
export class HubTransceiver extends Transceiver {
  readonly client: HubClient;
  /** Every description this endpoint sent, in order: who to and whether offer or answer. */
  readonly descriptions: Array<{ to: string; type: string }> = [];
  readonly #subscription: Subscription;

  constructor(hub: MemoryHub) {
    super();
    this.client = hub.connect();
    this.#subscription = this.client.messages.subscribe((message) => {
      const frame = JSON.parse(encodeFrame(message)) as { type: string; data: unknown };
      this.receive(frame.type, frame.data);
    });
  }

  override send(type: string, data: unknown): void {
    if (this.closed) throw new Error(`HubTransceiver: closed, ${type} not sent`);
    const parsed = parseClientFrame(JSON.stringify({ type, data }));
    if (!parsed.ok) throw parsed.error;
    if (parsed.message.type === 'rtc:sdp') {
      this.descriptions.push({ to: parsed.message.data.to, type: parsed.message.data.description.type });
    }
    this.client.send(parsed.message);
  }

  /** The socket goes away: the hub tells the others (`rtc:close`). */
  override close(): void {
    if (this.closed) return;
    this.#subscription.unsubscribe();
    this.client.leave();
    super.close();
  }
}

/** A {@link Signalling} over a fresh {@link HubTransceiver}: what a pool is given. */
export function hubTransceiverSignalling(hub: MemoryHub): Signalling & { transceiver: HubTransceiver } {
  return new Signalling(new HubTransceiver(hub)) as Signalling & { transceiver: HubTransceiver };
}
