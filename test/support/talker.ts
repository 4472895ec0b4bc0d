/**
 * A pool member on rtcpool's own `Signalling`, relaying numbered frames (each
 * frame's number in its candidate line), for the tests that count what a
 * server crash or pause loses or repeats. Signallings made here are closed
 * after each test. A list of URLs is opened with the global WebSocket: stub
 * it with `ws`'s in Node 20.
 */
import { afterEach } from 'vitest';
import { candidateMessage, joinMessage } from '../../src/protocol/index.js';
import { Signalling, type SignallingOptions, type WebSocketTransceiverOptions } from '../../src/signalling/index.js';
import { until } from './wait.js';

export interface Talker {
  signalling: Signalling;
  id: string;
  /** Frame numbers received, in order. */
  heard: number[];
  /** Ids `rtc:close` named. */
  closes: string[];
  /** `rtc:joined` received (more than one: the session was lost and joined again). */
  joins: number;
  /** Sends frame number `seq` to member `to`. */
  send(to: string, seq: number): void;
}

/** `ws://…/ws` of a server at `http://…`. */
export const wsUrl = (url: string) => `${url.replace(/^http/, 'ws')}/ws`;

/** The numbers 1 to n, in order. */
export const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * Makes talkers, and pumps between two of them; both stop after each test.
 * Call once at the top of a test file.
 */
export function talkers() {
  const made: Signalling[] = [];
  const pumping: NodeJS.Timeout[] = [];
  afterEach(() => {
    for (const timer of pumping.splice(0)) clearInterval(timer);
    for (const one of made.splice(0)) one.close();
  });
  /**
   * Both talkers send each other a numbered frame every `everyMs` until `stop`, which resolves once each has
   * heard as many as the other sent. Keep the rate under the server's limit (50/s sustained, 200 at once),
   * counting what piles up while a server is paused: a frame over it is dropped.
   */
  function pump(one: Talker, other: Talker, everyMs: number) {
    const sent = { byOne: 0, byOther: 0 };
    const timer = setInterval(() => {
      one.send(other.id, ++sent.byOne);
      other.send(one.id, ++sent.byOther);
    }, everyMs);
    pumping.push(timer);
    return {
      sent,
      async stop() {
        clearInterval(timer);
        await until(
          () => other.heard.length >= sent.byOne && one.heard.length >= sent.byOther,
          'every frame delivered',
          15_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 200)); // a frame delivered twice would come now
      },
    };
  }
  /** Joins `pool` through the servers at `urls` (`http://…`), in the order given. */
  async function talker(
    urls: string[],
    pool: string,
    options: SignallingOptions & WebSocketTransceiverOptions = {},
  ): Promise<Talker> {
    const signalling = new Signalling.websocket(urls.map(wsUrl), options);
    made.push(signalling);
    const talking: Talker = {
      signalling,
      id: '',
      heard: [],
      closes: [],
      joins: 0,
      send: (to, seq) =>
        signalling.send(
          candidateMessage(to, { candidate: `candidate:${seq} 1 udp 1 198.18.0.1 9 typ host`, sdpMid: '0' }),
        ),
    };
    signalling.messages.subscribe((message) => {
      if (message.type === 'rtc:joined') {
        talking.id = message.data.client_id;
        talking.joins += 1;
      } else if (message.type === 'rtc:candidate') {
        talking.heard.push(Number(/^candidate:(\d+) /.exec(message.data.candidate?.candidate ?? '')?.[1]));
      } else if (message.type === 'rtc:close') talking.closes.push(message.data.id);
    });
    signalling.send(joinMessage(pool));
    await until(() => talking.id !== '', 'rtc:joined');
    return talking;
  }
  return { talker, pump };
}
