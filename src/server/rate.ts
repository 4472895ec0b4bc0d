/**
 * A token bucket: `perSecond` tokens refill continuously up to `burst`. A
 * message that finds no token is dropped and adds to a debt; the debt also
 * refills, so only a sender that keeps pushing past the limit runs it past
 * `burst`, which is when the server gives up on the connection. So a sender
 * is always told (`drop`) `burst` times before it is cut off (`abuse`), as
 * `CLOSE_CODES.rateLimited` promises; with `burst: 1` too.
 */
export class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updated = now;
  }

  /** Takes one token: `'ok'`, `'drop'` (over the rate) or `'abuse'` (debt past the burst). */
  take(now: number): 'ok' | 'drop' | 'abuse' {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) / 1000) * this.perSecond);
    this.updated = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 'ok';
    return this.tokens < -this.burst ? 'abuse' : 'drop';
  }
}
