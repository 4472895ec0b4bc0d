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
