import type { NegotiationActor, OutgoingSignal } from '../../src/index.js';

/**
 * One direction of a signalling channel: delivers messages in order, each in
 * its own macrotask, as a WebSocket would. Counts what it carried.
 */
export class SignalPipe {
  descriptions = 0;
  candidates = 0;
  private target: NegotiationActor | undefined;

  connect(target: NegotiationActor): void {
    this.target = target;
  }

  readonly send = (signal: OutgoingSignal): void => {
    if (signal.type === 'description') this.descriptions += 1;
    else this.candidates += 1;
    setImmediate(() => {
      const target = this.target;
      if (target?.getSnapshot().status !== 'active') return;
      if (signal.type === 'description') target.send({ type: 'signal.description', description: signal.description });
      else target.send({ type: 'signal.candidate', candidate: signal.candidate });
    });
  };
}
