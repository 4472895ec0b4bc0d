/**
 * Guards the public types of the signalling layer. Checked by `tsc` (vitest
 * typecheck); the checks sit in functions that are never called, so they may
 * build values that could not run.
 */
import type { Observable } from 'rxjs';
import type { Socket } from 'socket.io-client';
import { describe, expectTypeOf, test } from 'vitest';
import type { WebSocket as NodeWebSocket } from 'ws';
import { type JoinedData, joinMessage, type ServerMessage, type SignallingError } from '../../src/protocol/index.js';
import type { Logger } from '../../src/shared/logger.js';
import {
  type ReconnectOptions,
  Signalling,
  type SignallingCloseReason,
  type SignallingOptions,
  type SignallingState,
  type SocketIoLike,
  signalling,
  Transceiver,
  type WebSocketLike,
  type WebSocketTransceiverOptions,
} from '../../src/signalling/index.js';

describe('signalling types', () => {
  test('both WebSocket implementations and the socket.io client fit', () => {
    expectTypeOf<NodeWebSocket>().toExtend<WebSocketLike>();
    expectTypeOf<WebSocket>().toExtend<WebSocketLike>();
    expectTypeOf<Socket>().toExtend<SocketIoLike>();
    expectTypeOf<{ send(data: string): void }>().not.toExtend<WebSocketLike>();
  });

  test('the shortcuts build Signallings from the right sockets', () => {
    expectTypeOf(Signalling.websocket).constructorParameters.toEqualTypeOf<
      [
        socket: WebSocketLike | (() => WebSocketLike) | string | readonly string[],
        options?: WebSocketTransceiverOptions & SignallingOptions,
      ]
    >();
    expectTypeOf(Signalling.socket.io).constructorParameters.toEqualTypeOf<
      [socket: SocketIoLike, options?: SignallingOptions]
    >();
    expectTypeOf<SignallingOptions>().toEqualTypeOf<{
      logger?: Logger;
      maxOutbox?: number;
      heartbeat?: { intervalMs?: number; timeoutMs?: number } | false;
    }>();
    expectTypeOf<WebSocketTransceiverOptions>().toEqualTypeOf<{
      maxFrameBytes?: number;
      reconnect?: ReconnectOptions | false;
    }>();
    expectTypeOf(signalling).toEqualTypeOf<typeof Signalling>();
    const misuse = (ws: NodeWebSocket, socket: Socket) => {
      expectTypeOf(new Signalling.websocket(ws)).toExtend<Signalling>();
      expectTypeOf(new Signalling.socket.io(socket)).toExtend<Signalling>();
      expectTypeOf(new signalling(new Transceiver())).toEqualTypeOf<Signalling>();
      // @ts-expect-error a socket.io socket is not a WebSocket
      new Signalling.websocket(socket);
      // @ts-expect-error a Signalling needs a Transceiver, not any EventTarget
      new Signalling(new EventTarget());
    };
    expectTypeOf(misuse).toBeFunction();
  });

  test('streams and events are typed', () => {
    const use = (channel: Signalling) => {
      expectTypeOf(channel.messages).toEqualTypeOf<Observable<ServerMessage>>();
      expectTypeOf(channel.errors).toEqualTypeOf<Observable<SignallingError>>();
      channel.addEventListener('join', (event) => expectTypeOf(event.detail).toEqualTypeOf<JoinedData>());
      channel.addEventListener('offer', (event) => expectTypeOf(event.detail.description.sdp).toBeString());
      channel.addEventListener('error', (event) => expectTypeOf(event.detail).toEqualTypeOf<SignallingError>());
      channel.addEventListener('something-else', (event) => expectTypeOf(event).toEqualTypeOf<Event>());
      channel.addEventListener('offline', (event) => expectTypeOf(event).toEqualTypeOf<Event>());
      expectTypeOf(channel.state$).toEqualTypeOf<Observable<SignallingState>>();
      expectTypeOf(channel.state).toEqualTypeOf<'online' | 'offline'>();
      expectTypeOf(channel.closeReason).toEqualTypeOf<SignallingCloseReason | undefined>();
      expectTypeOf<SignallingCloseReason['code']>().toEqualTypeOf<
        'connection-lost' | 'resume-refused' | 'resume-expired' | 'outbox-overflow'
      >();
    };
    expectTypeOf(use).toBeFunction();
  });

  test('only client messages can be sent', () => {
    const misuse = (channel: Signalling) => {
      channel.send(joinMessage('lobby'));
      channel.send({ type: 'rtc:candidate', data: { for: 'ada', candidate: null } });
      // @ts-expect-error rtc:peer is a server event
      channel.send({ type: 'rtc:peer', data: { id: 'ada' } });
      // @ts-expect-error rtc:join needs a pool
      channel.send({ type: 'rtc:join', data: {} });
    };
    expectTypeOf(misuse).toBeFunction();
  });
});
