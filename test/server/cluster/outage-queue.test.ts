/**
 * The queue's rule for what waits, without Redis: an operation waits when the
 * connection cannot take its command at the moment it would run; a failure
 * of an operation that did run is its own, whatever the connection says then.
 */
import { expect, test } from 'vitest';
import { BackplaneUnavailableError, OutageQueue } from '../../../src/server/backplane/outage-queue.js';

function queue(writable: () => boolean, waitMs = 10_000, busyAt = 1000) {
  const log: string[] = [];
  const ops = new OutageQueue({
    waitMs,
    writable,
    unavailable: () => new BackplaneUnavailableError('away'),
    onDown: () => log.push('down'),
    onGiveUp: (dropped) => log.push(`gave up ${dropped}`),
    busyAt,
    onBusy: (busy) => log.push(busy ? 'busy' : 'idle'),
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

test('busy once busyAt operations are unanswered, idle again at a quarter of it; operations that waited do not count', async () => {
  let writable = true;
  const { ops, log } = queue(() => writable, 10_000, 8);
  ops.resume();
  const answers: Array<() => void> = [];
  const pending = () =>
    ops.run(
      () =>
        new Promise<void>((resolve) => {
          answers.push(resolve);
        }),
    );
  const runs = Array.from({ length: 7 }, pending);
  expect(ops.inFlight).toBe(7);
  expect(log).toEqual([]);
  runs.push(pending());
  expect(log).toEqual(['busy']);
  runs.push(pending()); // still busy: said once
  for (const answer of answers.splice(0, 6)) answer(); // 9 - 6 = 3 left: above a quarter of 8
  await Promise.all(runs.slice(0, 6));
  expect(ops.inFlight).toBe(3);
  expect(log).toEqual(['busy']);
  answers.shift()?.();
  await runs[6];
  expect(ops.inFlight).toBe(2);
  expect(log).toEqual(['busy', 'idle']);
  // While Redis is away, operations wait unsent: not in flight, so no busy however many wait.
  writable = false;
  const waiting = Array.from({ length: 20 }, pending);
  expect(ops.inFlight).toBe(2);
  expect(log).toEqual(['busy', 'idle', 'down']);
  writable = true;
  ops.resume();
  expect(ops.inFlight).toBe(22);
  expect(log).toEqual(['busy', 'idle', 'down', 'busy']);
  for (const answer of answers.splice(0)) answer();
  await Promise.all([...runs, ...waiting]);
  expect(ops.inFlight).toBe(0);
  expect(log).toEqual(['busy', 'idle', 'down', 'busy', 'idle']);
});
