import type { SignallingChannel } from '../../src/pool.js';
import type { HubClient, MemoryHub } from './memory-hub.js';

/** A signalling channel to an in-memory hub, as a pool sees a real one. */
export function hubSignalling(hub: MemoryHub): SignallingChannel & { client: HubClient } {
  const client = hub.connect();
  return {
    client,
    messages: client.messages,
    send: (message) => client.send(message),
    close: () => client.leave(),
  };
}
