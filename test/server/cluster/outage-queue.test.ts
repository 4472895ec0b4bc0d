/**
 * The queue's rule for what waits, without Redis: an operation waits when the
 * connection cannot take its command at the moment it would run; a failure
 * of an operation that did run is its own, whatever the connection says then.
 */
import { expect, test } from 'vitest';
import { BackplaneUnavailableError, OutageQueue } from '../../../src/server/backplane/outage-queue.js';

function queue(writable: () => boolean, waitMs = 10_000) {
  const log: string[] = [];
  const ops = new OutageQueue({
    waitMs,
    writable,
    unavailable: () => new BackplaneUnavailableError('away'),
    onDown: () => log.push('down'),
    onGiveUp: (dropped) => log.push(`gave up ${dropped}`),
  });
  return { ops, log };
}

test('up but not writable: the operation is not run, the queue goes down, and it runs in order on resume', async () => {
  let writable = true;
  const { ops, log } = queue(() => writable);
  ops.resume();
  const ran: string[] = [];
  const op = (name: string) => () => {
    ran.push(name);
    return Promise.resolve(name);
  };
  expect(await ops.run(op('first'))).toBe('first');
  writable = false;
  const second = ops.run(op('second'));
  const third = ops.run(op('third'));
  expect(ran).toEqual(['first']);
  expect(ops.up).toBe(false);
  expect(log).toEqual(['down']);
  writable = true;
  expect(ops.resume()).toBe(2);
  expect(await Promise.all([second, third])).toEqual(['second', 'third']);
  expect(ran).toEqual(['first', 'second', 'third']);
});

test('an operation that ran and failed is not run again, even if the connection is down by then', async () => {
  let writable = true;
  const { ops } = queue(() => writable);
  ops.resume();
  let runs = 0;
  const failing = ops.run(() => {
    runs += 1;
    writable = false;
    return Promise.reject(new Error('written, then the connection broke'));
  });
  await expect(failing).rejects.toThrow('written, then the connection broke');
  expect(runs).toBe(1);
});

test('waiting operations fail after waitMs, and so do new ones until resume', async () => {
  const { ops, log } = queue(() => false, 50);
  ops.resume();
  const waiting = ops.run(() => Promise.resolve('never'));
  await expect(waiting).rejects.toBeInstanceOf(BackplaneUnavailableError);
  expect(log).toEqual(['down', 'gave up 1']);
  await expect(ops.run(() => Promise.resolve('no'))).rejects.toBeInstanceOf(BackplaneUnavailableError);
});
