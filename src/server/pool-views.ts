/**
 * The pools this process has members in, as it hears them from the backplane:
 * relays to deliver, membership news to pass on (each member hears only what
 * its join's snapshot did not have), stops, sessions taken over by another
 * process, and the events a join (or a takeover) in flight must not miss
 * while the backplane answers it. Which events a member hears is one rule,
 * {@link follow}, wherever they are heard: that is what lets another process
 * rebuild a session's frames from its pool's log. A view lives while a member
 * here is in its pool or joining it.
 */
import { later } from './backplane/pool-log.js';
import type { Backplane, PoolEvent } from './backplane/types.js';
import { type Session, send } from './sessions.js';

/** A pool this process has members in: its local sessions, and joins waiting for the backplane. */
export interface PoolView {
  readonly id: string;
  readonly locals: Map<string, Session>;
  /** Events seen while a join is in flight, for the joiner once it knows its snapshot; only while there is one. */
  pending?: Set<PoolEvent[]> | undefined;
  /** Until the backplane confirms the subscription (never, for the memory backplane). */
  ready?: Promise<void> | undefined;
  /** The log entry of the last event heard, where the backplane keeps a log. */
  last?: string | undefined;
  /** Who waits for the view to have heard a log entry ({@link PoolViews.reached}); only while someone does. */
  waiting?: Array<{ at: string; heard: () => void }> | undefined;
}

/** What the views leave to the hub. */
export interface PoolHost {
  /** Ends a member's session (after its `rtc:stop`): its pool was stopped, or this server is closing. */
  end(session: Session, how: 'stopped' | 'shutdown'): void;
  /** A pool was stopped; this process had `members` in it. */
  stopped(pool: string, members: number): void;
  /** Another process took a member's session over: it ends here without leaving. */
  moved(session: Session): void;
}

/** This process's views, one per pool it has members in or joining. */
export class PoolViews {
  private readonly views = new Map<string, PoolView>();

  constructor(
    private readonly backplane: Backplane,
    private readonly host: PoolHost,
  ) {}

  /** Pools with members (or joins) here. */
  get size(): number {
    return this.views.size;
  }

  /** A copy: stopping a pool's members releases its view. */
  all(): PoolView[] {
    return [...this.views.values()];
  }

  /** The view of pool `id`, listening to its events (in `ready` until the backplane confirms). */
  watch(id: string): PoolView {
    const existing = this.views.get(id);
    if (existing) return existing;
    const view: PoolView = { id, locals: new Map() };
    this.views.set(id, view);
    const listening = this.backplane.listen(id, (event) => this.hear(view, event));
    if (listening instanceof Promise) {
      view.ready = listening.then(() => {
        view.ready = undefined;
      });
    }
    return view;
  }

  /** A join into `view` is in flight: the events it hears until {@link settled}, for the joiner to catch up on. */
  joining(view: PoolView): PoolEvent[] {
    const seen: PoolEvent[] = [];
    view.pending ??= new Set();
    view.pending.add(seen);
    return seen;
  }

  /** The backplane has answered that join (either way); {@link release} the view if it failed. */
  settled(view: PoolView, seen: PoolEvent[]): void {
    view.pending?.delete(seen);
    if (view.pending?.size === 0) view.pending = undefined;
  }

  /** The log entry of the last event heard of pool `id`, where the backplane keeps a log. */
  lastOf(id: string): string | undefined {
    return this.views.get(id)?.last;
  }

  /** A joined member, whose pool's events it now hears. */
  admit(view: PoolView, session: Session): void {
    view.locals.set(session.id, session);
  }

  /** Takes a member out of its view, which the caller then {@link release}s once the backplane knows. */
  remove(session: Session): PoolView | undefined {
    const view = this.views.get(session.pool);
    view?.locals.delete(session.id);
    return view;
  }

  /** Stops listening to a pool nobody here is in or joining. */
  release(view: PoolView): void {
    if (view.locals.size > 0 || view.pending || this.views.get(view.id) !== view) return;
    this.views.delete(view.id);
    this.backplane.unlisten(view.id);
  }

  /** Sends `rtc:stop` (from log entry `at`, if any) to this process's members of a pool and ends them; how many. */
  stop(view: PoolView, how: 'stopped' | 'shutdown', at?: string): number {
    const members = [...view.locals.values()];
    for (const session of members) this.stopMember(session, how, at);
    return members.length;
  }

  /**
   * Brings a new member up to date with what its pool did while the backplane
   * answered its join (a shared backplane delivers events and replies apart),
   * and stops it if the pool was stopped after its snapshot.
   */
  catchUp(session: Session, seen: readonly PoolEvent[]): void {
    for (const event of seen) {
      if (!follow(session, event)) {
        this.stopMember(session, 'stopped', event.at);
        return;
      }
    }
  }

  private stopMember(session: Session, how: 'stopped' | 'shutdown', at?: string): void {
    send(session, 'rtc:stop', {}, at);
    this.host.end(session, how);
  }

  /**
   * Resolves once the view has heard log entry `at` (or a later one): a log read on one connection can come back
   * before the same events arrive on the subscriber's.
   */
  reached(view: PoolView, at: string): Promise<void> {
    if (view.last !== undefined && !later(at, view.last)) return Promise.resolve();
    return new Promise((heard) => {
      view.waiting ??= [];
      view.waiting.push({ at, heard });
    });
  }

  private wake(view: PoolView, at: string): void {
    const still = view.waiting?.filter((waiter) => later(waiter.at, at));
    for (const waiter of view.waiting ?? []) if (!later(waiter.at, at)) waiter.heard();
    view.waiting = still?.length ? still : undefined;
  }

  /** One event of a pool this process serves. */
  private hear(view: PoolView, event: PoolEvent): void {
    if (view.pending) for (const seen of view.pending) seen.push(event);
    if (event.at !== undefined) {
      view.last = event.at;
      if (view.waiting) this.wake(view, event.at);
    }
    if (event.kind === 'relay') {
      const target = view.locals.get(event.to);
      if (target) send(target, event.type, event.data, event.at);
      return;
    }
    if (event.kind === 'moved') {
      const session = view.locals.get(event.id);
      if (session && session.gen < event.gen) this.host.moved(session);
      return;
    }
    if (event.kind === 'stop') {
      this.host.stopped(view.id, this.stop(view, 'stopped', event.at));
      return;
    }
    for (const session of view.locals.values()) tell(session, event);
  }
}

/**
 * One pool event as one member hears it, the same wherever it is heard: live, in a join's catch-up, or
 * rebuilding a session taken over from its log. False for a `stop` after its join: the caller stops it.
 */
export function follow(session: Session, event: PoolEvent): boolean {
  if (event.kind === 'relay') {
    if (event.to === session.id) send(session, event.type, event.data, event.at);
  } else if (event.kind === 'stop') {
    return event.seq <= session.joinSeq;
  } else if (event.kind !== 'moved') tell(session, event);
  return true;
}

/** A membership event as one member sees it: only news it has not had. */
function tell(session: Session, event: Exclude<PoolEvent, { kind: 'relay' | 'stop' | 'moved' }>): void {
  if (event.seq <= session.joinSeq || event.id === session.id) return;
  if (event.kind === 'peer') {
    if (session.peers.includes(event.id)) return;
    // concat and slice allocate exactly the length they need; a spread or filter grows as push does.
    session.peers = session.peers.concat(event.id);
    send(session, 'rtc:peer', { id: event.id }, event.at);
  } else if (event.kind === 'close') {
    const at = session.peers.indexOf(event.id);
    if (at === -1) return;
    session.peers = session.peers.slice(0, at).concat(session.peers.slice(at + 1));
    send(session, 'rtc:close', { id: event.id, uid: event.id }, event.at);
  } else if (session.peers.includes(event.id)) {
    send(session, 'rtc:describe', { id: event.id, description: event.description }, event.at);
  }
}
