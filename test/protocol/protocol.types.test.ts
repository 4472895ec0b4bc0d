/**
 * Guards the protocol's public types. Checked by `tsc` (vitest typecheck);
 * the bodies are never executed.
 */
import { describe, expectTypeOf, test } from 'vitest';
import {
  type ClientMessage,
  type ClientMessageOf,
  candidateMessage,
  encodeFrame,
  type IceCandidate,
  type JsonValue,
  joinMessage,
  type ParseResult,
  parseServerFrame,
  type ServerMessage,
  type ServerMessageOf,
  type SessionDescription,
  type SignallingError,
  type SignallingErrorCode,
  sdpMessage,
} from '../../src/index.js';

describe('parse results', () => {
  test('narrow on ok, then on the message type', () => {
    const result = parseServerFrame('{}');
    expectTypeOf(result).toEqualTypeOf<ParseResult<ServerMessage>>();
    if (!result.ok) {
      expectTypeOf(result.error).toEqualTypeOf<SignallingError>();
      expectTypeOf(result.error.code).toEqualTypeOf<SignallingErrorCode>();
      // @ts-expect-error: no message on a failure
      result.message;
      return;
    }
    const { message } = result;
    if (message.type === 'rtc:sdp') expectTypeOf(message.data.description).toEqualTypeOf<SessionDescription>();
    if (message.type === 'rtc:candidate') expectTypeOf(message.data.candidate).toEqualTypeOf<IceCandidate | null>();
    if (message.type === 'rtc:joined') {
      expectTypeOf(message.data.pool).toEqualTypeOf<string | null>();
      expectTypeOf(message.data.descriptions).toEqualTypeOf<Record<string, JsonValue>>();
    }
    if (message.type === 'rtc:error') expectTypeOf(message.data.reason).toEqualTypeOf<string | undefined>();
    // @ts-expect-error: version 1 names never reach past the parser
    if (message.type === 'rtc:offer') return;
  });
});

describe('constructors and encodeFrame', () => {
  test('constructors return the precise message', () => {
    expectTypeOf(joinMessage('p')).toEqualTypeOf<ClientMessageOf<'rtc:join'>>();
    expectTypeOf(sdpMessage('a', { type: 'offer', sdp: '' })).toEqualTypeOf<ClientMessageOf<'rtc:sdp'>>();
    expectTypeOf(candidateMessage('a', null)).toEqualTypeOf<ClientMessageOf<'rtc:candidate'>>();
    expectTypeOf<ClientMessageOf<'rtc:join'>>().toExtend<ClientMessage>();
    expectTypeOf<ServerMessageOf<'rtc:close'>['data']>().toEqualTypeOf<{ id: string }>();
    // @ts-expect-error: rollback is never signalled
    sdpMessage('a', { type: 'rollback', sdp: '' });
  });

  test('encodeFrame takes either side’s messages, nothing else', () => {
    expectTypeOf(encodeFrame(joinMessage('p'))).toEqualTypeOf<string>();
    encodeFrame({ type: 'rtc:stop', data: {} });
    // @ts-expect-error: an unknown event
    encodeFrame({ type: 'rtc:dance', data: {} });
    // @ts-expect-error: a client rtc:sdp carries `to`, a server one `peer`
    encodeFrame({ type: 'rtc:sdp', data: { from: 'a', description: { type: 'offer', sdp: '' } } });
  });
});
