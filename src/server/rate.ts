/** A rate limit: `perSecond` sustained, `burst` at once above it. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

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
    /** The server's limit: one object shared by every connection's bucket, which holds only its own state. */
    private readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.updated = now;
  }

  /** Takes one token: `'ok'`, `'drop'` (over the rate) or `'abuse'` (debt past the burst). */
  take(now: number): 'ok' | 'drop' | 'abuse' {
    const { perSecond, burst } = this.limit;
    this.tokens = Math.min(burst, this.tokens + ((now - this.updated) / 1000) * perSecond);
    this.updated = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 'ok';
    return this.tokens < -burst ? 'abuse' : 'drop';
  }
}
