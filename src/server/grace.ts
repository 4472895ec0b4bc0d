/**
 * How long `close()` lets connections finish closing on their own (flush
 * `rtc:stop`, answer the close handshake) before it cuts them. A dead or
 * frozen peer never answers: without a bound, `ws` would hold the server open
 * for its own 30 s close timeout.
 */
export const CLOSE_GRACE_MS = 1_000;

/** Resolves once every promise has settled, or after `ms`, whichever comes first. */
export function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void Promise.allSettled(promises).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
