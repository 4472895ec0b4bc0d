import wrtc from '@roamhq/wrtc';
import { RTCPeerConnection as WeriftPeerConnection } from 'werift';
import type { PeerConnectionLike } from '../../src/index.js';

/** A data channel as both real Node stacks expose it. */
export interface ChannelLike {
  readonly label: string;
  readonly readyState: string;
  send(data: string): void;
  addEventListener(type: 'open' | 'message', listener: (event: { data?: unknown }) => void): void;
}

export interface RealPeerConnection extends PeerConnectionLike {
  createDataChannel(label: string): ChannelLike;
}

export type StackName = 'wrtc' | 'werift';

/** Real WebRTC implementations that install from npm; loopback only, no STUN/TURN. */
export const stacks: Record<StackName, () => RealPeerConnection> = {
  wrtc: () => new wrtc.RTCPeerConnection({ iceServers: [] }) as unknown as RealPeerConnection,
  // werift skips loopback interfaces unless told; keep its traffic on 127.0.0.1.
  werift: () =>
    new WeriftPeerConnection({
      iceServers: [],
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceAdditionalHostAddresses: ['127.0.0.1'],
    }) as unknown as RealPeerConnection,
};

/** The `a=ice-ufrag` of an SDP blob, to tell whether ICE really restarted. */
export function iceUfrag(sdp: string | undefined): string | undefined {
  return sdp?.match(/a=ice-ufrag:(\S+)/)?.[1];
}

/** Collects the text of every message a channel receives (werift hands over Buffers). */
export function collectMessages(channel: ChannelLike): string[] {
  const received: string[] = [];
  channel.addEventListener('message', (event) => received.push(String(event.data)));
  return received;
}
