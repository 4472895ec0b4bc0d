/** One check catches everything rtcpool throws or reports, and each class keeps its own. */
import { describe, expect, test } from 'vitest';
import {
  NegotiationError,
  PoolError,
  RtcpoolError,
  SignallingClosedError,
  SignallingError,
  Transceiver,
} from '../src/index.js';
import { BackplaneUnavailableError } from '../src/server/backplane/outage-queue.js';

describe('RtcpoolError', () => {
  const errors = [
    new PoolError('unknown-peer', 'no such peer'),
    new SignallingError('malformed-frame', 'not JSON'),
    new SignallingClosedError('closed'),
    new NegotiationError('offer-failed', 'no offer'),
    new BackplaneUnavailableError('no Redis'),
  ];

  test('every rtcpool error is an RtcpoolError, an Error, with a code', () => {
    for (const error of errors) {
      expect(error).toBeInstanceOf(RtcpoolError);
      expect(error).toBeInstanceOf(Error);
      expect(typeof error.code).toBe('string');
    }
  });

  test('a class still recognises only its own', () => {
    expect(errors.filter((error) => error instanceof PoolError)).toEqual([errors[0]]);
    expect(errors.filter((error) => error instanceof SignallingError)).toEqual([errors[1]]);
    expect(errors.filter((error) => error instanceof NegotiationError)).toEqual([errors[3]]);
  });

  test('other errors are not', () => {
    expect(new Error('x')).not.toBeInstanceOf(RtcpoolError);
    expect(new TypeError('x')).not.toBeInstanceOf(RtcpoolError);
    expect({ code: 'offer-failed', message: 'a lookalike' }).not.toBeInstanceOf(RtcpoolError);
  });

  test('sending on a closed channel throws a typed error', () => {
    const transceiver = new Transceiver();
    transceiver.close();
    expect(() => transceiver.send('rtc:join', { pool: 'p' })).toThrow(SignallingClosedError);
  });
});
