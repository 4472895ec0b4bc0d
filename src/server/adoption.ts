/**
 * Taking over, on a resume, a session another process held: where the
 * backplane keeps sessions (Redis), a client whose connection lands on any
 * process resumes there, whether the process that had it is alive or not.
 *
 * No frame is copied between processes. Every frame a session sends comes
 * from one event of its pool's log, and which events a member hears is the
 * same rule everywhere (`follow`), so the frames after a checkpoint (the
 * session's count and the log entry of the last frame its client
 * acknowledged, recorded in Redis) can be told again in the same order and
 * with the same numbers by any process. The client's own frames that reached
 * the log carry their numbers: the process taking over answers `received`
 * with the highest, and the client sends again everything after it.
 */
import { RESUME_REFUSED } from '../protocol/index.js';
import { later } from './backplane/pool-log.js';
import type { Adopted, PoolEvent, SessionStore } from './backplane/types.js';
import { follow, type PoolView, type PoolViews } from './pool-views.js';
import type { RejectionReason } from './reasons.js';
import { type Endpoint, ownsSession, type Replay, replayFrom, Session, tokenHash } from './sessions.js';

/** What a resume needs of the hub. */
export interface ResumeHost {
  readonly sessions: Map<string, Session>;
  readonly views: PoolViews;
  /** Where sessions are kept beyond this process, when they are and resumption is on. */
  readonly store: SessionStore | undefined;
  reject(endpoint: Endpoint, reason: RejectionReason, message: string): void;
  /** The session leaves its pool. */
  end(session: Session): void;
  /** The session waits for a resume without a connection. */
  detach(session: Session): void;
  /** The session goes on over `endpoint`, after the frames in `replay`; `previous` is closed as moved. */
  resumed(session: Session, endpoint: Endpoint, replay: Replay, previous: Endpoint | null): void;
  failed(error: unknown): void;
}

type ResumeRequest = { id: string; token: string; received: number };

const UNKNOWN = 'no such session to resume (expired, unknown, or not yours)';

/**
 * `rtc:resume` on a connection: the session goes on over it, with the frames
 * the client missed, or the client is refused (one reason for every failure).
 * A session this process has is resumed at once; one it has not is looked
 * for where sessions are kept ({@link adopt}).
 */
export function resume(host: ResumeHost, endpoint: Endpoint, request: ResumeRequest): void {
  if (endpoint.state !== 'connected') {
    host.reject(endpoint, 'already-joined', 'this connection has already joined (or is joining) a pool');
    return;
  }
  const session = host.sessions.get(request.id);
  if (!session && host.store) {
    void adoptOn(host, host.store, endpoint, request);
    return;
  }
  if (!session || !ownsSession(session, request.token)) {
    host.reject(endpoint, RESUME_REFUSED, UNKNOWN);
    return;
  }
  const replay = replayFrom(session, request.received);
  if (!replay) {
    host.end(session);
    host.reject(endpoint, RESUME_REFUSED, 'the frames missed since are no longer held; join again');
    return;
  }
  const previous = session.endpoint;
  if (previous) previous.session = null;
  host.resumed(session, endpoint, replay, previous);
}

/** A resume of a session kept elsewhere: taken over, rebuilt, admitted, then resumed (or ended, if it cannot be). */
async function adoptOn(host: ResumeHost, store: SessionStore, endpoint: Endpoint, request: ResumeRequest) {
  endpoint.state = 'joining';
  const adoption = await adopt(store, host.views, request).catch((error: unknown) => {
    host.failed(error);
    return undefined;
  });
  const session = adoption?.ok ? adoption.session : adoption?.gap;
  if (adoption?.view && session) {
    host.sessions.set(session.id, session);
    host.views.admit(adoption.view, session);
  } else if (adoption?.view) host.views.release(adoption.view);
  const gone = endpoint.state !== 'joining';
  if (!gone) endpoint.state = 'connected';
  const replay = adoption?.ok ? replayFrom(adoption.session, request.received) : undefined;
  if (!session || !replay) {
    if (session) host.end(session); // taken, but what the client missed cannot be told again
    if (!gone)
      host.reject(
        endpoint,
        RESUME_REFUSED,
        session ? 'the frames missed since are no longer held; join again' : UNKNOWN,
      );
    return;
  }
  if (gone) host.detach(session);
  else host.resumed(session, endpoint, replay, null);
}

/** A session rebuilt here, not yet admitted to its view (the caller holds the view's pending events). */
export type Adoption =
  | { ok: true; session: Session; view: PoolView }
  /**
   * Refused: `gap` when the session was taken but cannot be rebuilt (the log no longer reaches its checkpoint, or
   * could not be read): it must end.
   */
  | { ok: false; gap: Session | undefined; view: PoolView | undefined };

/**
 * Takes session `id` over (if `token` is its own) and rebuilds it from its
 * pool's log: subscribed to the pool first, so that nothing after the log's
 * end as read is missed, then the log from the checkpoint, then what the
 * pool's channel delivered meanwhile. A session that cannot be taken over
 * leaves the view to the caller to release.
 */
export async function adopt(
  store: SessionStore,
  views: PoolViews,
  request: { id: string; token: string },
): Promise<Adoption> {
  const pool = await store.poolOf(request.id);
  if (pool === undefined) return { ok: false, gap: undefined, view: undefined };
  // Subscribed before taking over: every event from the takeover's own on reaches this view live.
  const view = views.watch(pool);
  const seen = views.joining(view);
  let adopted: Adopted | undefined;
  let history: PoolEvent[] | undefined;
  try {
    if (view.ready) await view.ready;
    adopted = await store.adopt(request.id, tokenHash(request.token));
    history = adopted && (await store.history(pool, adopted.checkpoint.at));
    // Admitted only once the view has heard as far as the log was read: an event read from the log whose message
    // had not yet arrived on the subscriber would otherwise reach the session a second time.
    const end = history?.at(-1)?.at;
    if (end !== undefined) await views.reached(view, end);
  } catch {
    // Taken, but not rebuilt (Redis went away meanwhile): the session ends rather than stay held by nobody.
  } finally {
    views.settled(view, seen);
  }
  if (!adopted) return { ok: false, gap: undefined, view };
  const { checkpoint } = adopted;
  const session = new Session(request.id, pool, request.token, adopted.joinSeq, null);
  session.gen = adopted.gen;
  session.description = adopted.description;
  session.peers = checkpoint.peers;
  session.sent = checkpoint.sent;
  session.firstUnacked = checkpoint.sent;
  session.unacked = [];
  session.received = checkpoint.received;
  if (!history) return { ok: false, gap: session, view };
  // The checkpoint's own entry was told already: frame number `sent`.
  let last = checkpoint.at;
  const tell = (event: PoolEvent): boolean => {
    if (event.kind === 'relay' && event.n !== undefined && sender(event) === session.id) {
      session.received = Math.max(session.received, event.n);
    }
    return follow(session, event);
  };
  for (const event of history.slice(1)) {
    if (!tell(event)) return { ok: false, gap: session, view };
    last = event.at ?? last;
  }
  for (const event of seen) {
    if (event.at !== undefined && !later(event.at, last)) continue;
    if (!tell(event)) return { ok: false, gap: session, view };
  }
  return { ok: true, session, view };
}

function sender(relay: Extract<PoolEvent, { kind: 'relay' }>): unknown {
  return relay.type === 'rtc:sdp' ? relay.data.peer : relay.data.from;
}
