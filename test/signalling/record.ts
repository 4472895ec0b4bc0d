import { expect } from 'vitest';
import type { ServerMessage, SignallingError } from '../../src/protocol/index.js';
import type { Signalling } from '../../src/signalling/index.js';
import { until } from '../support/wait.js';
import { type Sample, SIGNALLING_EVENTS } from './frames.js';

/** Everything a Signalling produced, in order, for assertions. */
export interface Recording {
  messages: ServerMessage[];
  errors: SignallingError[];
  /** Dispatched events as `[name, detail]`. */
  events: [string, unknown][];
  /** Whether `messages` and `errors` have completed. */
  completed: { messages: boolean; errors: boolean };
}

export function record(signalling: Signalling): Recording {
  const recording: Recording = { messages: [], errors: [], events: [], completed: { messages: false, errors: false } };
  signalling.messages.subscribe({
    next: (message) => recording.messages.push(message),
    complete: () => {
      recording.completed.messages = true;
    },
  });
  signalling.errors.subscribe({
    next: (error) => recording.errors.push(error),
    complete: () => {
      recording.completed.errors = true;
    },
  });
  for (const name of SIGNALLING_EVENTS) {
    signalling.addEventListener(name, (event) => recording.events.push([name, (event as CustomEvent).detail]));
  }
  return recording;
}

/** Waits for every sample to come through, then checks its message and events, in order, and no error. */
export async function expectDelivered(recording: Recording, samples: Sample[]): Promise<void> {
  await until(() => recording.messages.length === samples.length, 'every message');
  expect(recording.messages).toEqual(samples.map((sample) => sample.message));
  expect(recording.events).toEqual(
    samples.flatMap((sample) => sample.events.map((name) => [name, sample.message.data])),
  );
  expect(recording.errors).toEqual([]);
}
