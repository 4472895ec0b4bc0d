/**
 * Guards the pool's public types. Checked by `tsc` (vitest typecheck); the
 * bodies are never executed.
 */
import wrtc from '@roamhq/wrtc';
import type { Observable } from 'rxjs';
import { describe, expectTypeOf, test } from 'vitest';
import {
  type JsonValue,
  type ManagedConnection,
  Pool,
  type PoolEventData,
  type PoolEventDetails,
  type SignallingChannel,
} from '../../src/index.js';

describe('Pool', () => {
  test('takes a configuration, a signalling channel and Node connection classes', () => {
    const make = (signalling: SignallingChannel) => {
      new Pool({ iceServers: [] }, signalling, { RTCPeerConnection: wrtc.RTCPeerConnection });
      // @ts-expect-error a signalling channel is required
      new Pool({ iceServers: [] });
    };
    expectTypeOf(make).toBeFunction();
  });

  test('exposes the original members with precise types', () => {
    expectTypeOf<Pool['id']>().toEqualTypeOf<string | null>();
    expectTypeOf<Pool['connections']>().toEqualTypeOf<ManagedConnection[]>();
    expectTypeOf<Pool['join']>().returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf<Pool['getDescription']>().returns.toEqualTypeOf<JsonValue>();
    expectTypeOf<Pool['get_description']>().toEqualTypeOf<Pool['getDescription']>();
    expectTypeOf<Pool['events$']>().toEqualTypeOf<Observable<PoolEventData>>();
    expectTypeOf<Pool['peers$']>().toEqualTypeOf<Observable<readonly string[]>>();
  });

  test('on* handlers receive typed details', () => {
    const wire = (pool: Pool) => {
      pool.events.onpeer = ({ detail }) => expectTypeOf(detail.connection).toEqualTypeOf<ManagedConnection>();
      pool.events.onclose = ({ detail }) => expectTypeOf(detail).toEqualTypeOf<ManagedConnection | null>();
      pool.events.ondescribe = ({ detail }) => expectTypeOf(detail.description).toEqualTypeOf<JsonValue>();
      // @ts-expect-error a handler for `peer` cannot take `describe` details
      pool.events.onpeer = (event: CustomEvent<PoolEventDetails['describe']>) => event;
    };
    expectTypeOf(wire).toBeFunction();
  });

  test('the event stream is a discriminated union', () => {
    const narrow = (event: PoolEventData) => {
      if (event.type === 'peer') expectTypeOf(event.connection).toEqualTypeOf<ManagedConnection>();
      if (event.type === 'join') expectTypeOf(event.id).toEqualTypeOf<string>();
    };
    expectTypeOf(narrow).toBeFunction();
  });
});

describe('the platform types a first application meets', () => {
  test('channels, tracks, streams, senders and stats are the DOM WebRTC types', () => {
    const use = async (pool: Pool, connection: ManagedConnection, track: MediaStreamTrack, stream: MediaStream) => {
      const chat = await connection.dataChannel('chat', { ordered: false });
      expectTypeOf(chat).toEqualTypeOf<RTCDataChannel>();
      chat.send('hello');
      expectTypeOf(connection.dataChannel('raw', undefined, true)).toEqualTypeOf<RTCDataChannel>();
      const sender = connection.addTrack(track, stream);
      expectTypeOf(sender).toEqualTypeOf<RTCRtpSender>();
      connection.removeTrack(sender);
      expectTypeOf(await connection.getStats()).toEqualTypeOf<RTCStatsReport>();
      expectTypeOf(connection.peerConnection).toEqualTypeOf<RTCPeerConnection>();
      expectTypeOf(connection.connectionState).toEqualTypeOf<RTCPeerConnectionState>();
      pool.events.ontrack = ({ detail }) => {
        expectTypeOf(detail.track).toEqualTypeOf<MediaStreamTrack>();
        const video = null as unknown as HTMLVideoElement;
        video.srcObject = detail.streams[0] ?? null;
      };
      // @ts-expect-error a data channel's options are RTCDataChannelInit
      connection.dataChannel('chat', { ordered: 'yes' });
      // @ts-expect-error a sender is what addTrack returned, not a track
      connection.removeTrack(track);
    };
    expectTypeOf(use).toBeFunction();
  });

  test('addEventListener is typed per event name, on the pool and on each connection', () => {
    const listen = (pool: Pool) => {
      pool.events.addEventListener('peer', (event) => {
        expectTypeOf(event.detail.connection).toEqualTypeOf<ManagedConnection>();
        event.detail.connection.addEventListener('track', ({ detail }) =>
          expectTypeOf(detail.streams).toEqualTypeOf<readonly MediaStream[]>(),
        );
        event.detail.connection.addEventListener('connectionstatechange', ({ detail }) =>
          expectTypeOf(detail.state).toEqualTypeOf<RTCPeerConnectionState>(),
        );
      });
      pool.events.addEventListener('error', ({ detail }) => expectTypeOf(detail.error.code).toBeString());
      pool.events.addEventListener('close', ({ detail }) =>
        expectTypeOf(detail).toEqualTypeOf<ManagedConnection | null>(),
      );
    };
    expectTypeOf(listen).toBeFunction();
  });

  test('the configuration is RTCConfiguration: a misspelt field is an error', () => {
    const make = (signalling: SignallingChannel) => {
      new Pool({ iceServers: [{ urls: 'stun:stun.example.org' }], iceTransportPolicy: 'relay' }, signalling);
      // @ts-expect-error `iceServer` is not an RTCConfiguration field
      new Pool({ iceServer: [] }, signalling);
    };
    expectTypeOf(make).toBeFunction();
  });

  test("on werift, the types are werift's", () => {
    type Werift = import('werift').RTCPeerConnection;
    const make = (signalling: SignallingChannel, WeriftPeerConnection: new (config?: object) => Werift) => {
      const pool = new Pool({}, signalling, { RTCPeerConnection: WeriftPeerConnection });
      expectTypeOf(pool).toEqualTypeOf<Pool<Werift, object>>();
      pool.events.ondatachannel = ({ detail }) =>
        expectTypeOf(detail.channel).toEqualTypeOf<import('werift').RTCDataChannel>();
    };
    expectTypeOf(make).toBeFunction();
  });
});
