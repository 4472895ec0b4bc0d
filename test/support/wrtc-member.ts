import wrtc from '@roamhq/wrtc';
import { afterEach } from 'vitest';
import { WebSocket } from 'ws';
import { Pool } from '../../src/pool.js';
import type { PoolEventData } from '../../src/pool-events.js';
import { Signalling } from '../../src/signalling/index.js';
import type { ChannelLike } from './real-stacks.js';

/** wrtc's types are the DOM's; werift's class stands in for them here (it interoperates at run time). */
type PeerConnectionClass = new (configuration?: RTCConfiguration) => RTCPeerConnection;

/** A real `Pool` on @roamhq/wrtc, with what a test wants to look at afterwards. */
export interface WrtcMember {
  name: string;
  pool: Pool;
  signalling: Signalling;
  /** Every connection the pool made, in order (the pool does not expose them). */
  pcs: RTCPeerConnection[];
  /** Channels the peers opened, as `datachannel` events brought them. */
  incoming: Array<{ from: string; channel: ChannelLike }>;
  /** Every pool event, in order. */
  events: PoolEventData[];
}

/**
 * A Pool on wrtc over `signalling` (to a real server, usually), recording its
 * connections, incoming channels and events. The caller closes `pool`.
 */
export function wrtcMember(name: string, signalling: Signalling): WrtcMember {
  const pcs: RTCPeerConnection[] = [];
  const Base = wrtc.RTCPeerConnection as unknown as PeerConnectionClass;
  const pool = new Pool({ iceServers: [] }, signalling, {
    RTCPeerConnection: class extends Base {
      constructor(configuration?: RTCConfiguration) {
        super(configuration);
        pcs.push(this);
      }
    },
  });
  const member: WrtcMember = { name, pool, signalling, pcs, incoming: [], events: [] };
  pool.events$.subscribe((event) => member.events.push(event));
  pool.events.ondatachannel = ({ detail }) =>
    member.incoming.push({ from: detail.connection.id, channel: detail.channel as unknown as ChannelLike });
  return member;
}

/**
 * Makes {@link wrtcMember}s whose signalling is a raw WebSocket to the server
 * at `url` (`http://host:port`); their pools are closed after each test. Call
 * it once at the top of a test file.
 */
export function wrtcMembersOverWebSocket(): (name: string, url: string) => WrtcMember {
  const pools: Pool[] = [];
  afterEach(() => {
    for (const pool of pools.splice(0)) pool.close();
  });
  return (name, url) => {
    const member = wrtcMember(name, new Signalling.websocket(new WebSocket(`${url.replace(/^http/, 'ws')}/ws`)));
    pools.push(member.pool);
    return member;
  };
}
