/**
 * A pool's ICE servers: the application's own (its `RTCConfiguration`) and
 * those the signalling server hands out in `rtc:joined` and `rtc:resumed`
 * (TURN credentials minted for this endpoint), merged before each connection
 * is made and handed to existing connections when a resume brings new ones.
 * And the watch that turns a TURN server that cannot be used (a wrong or
 * expired credential, no answer) into an error naming the connection rather
 * than a connection that silently never connects.
 *
 * The Pool holds them, not the machines: they decide nothing there, and
 * credentials have no business in machine snapshots (which an inspector
 * shows).
 */
import { isTurnUrl } from './protocol/ice-servers.js';
import type { IceServer, ServerMessage } from './protocol/messages.js';
import { iceUfrag } from './sdp.js';

/** An ICE server entry as a stack reports it back (`getConfiguration()`). */
interface IceServerEntry {
  urls?: string | readonly string[];
  username?: string;
}

/** What this file needs of a peer connection, beyond its events. */
export interface ConfigurablePeerConnection {
  /** Where the stack has them: the configuration now, and a way to change it (for the next ICE restart). */
  getConfiguration?(): object;
  setConfiguration?(configuration: never): void;
  /** Read on `icegatheringstatechange`. */
  readonly iceGatheringState?: string;
  /** `closed` once the pool has closed it: nothing more to report. */
  readonly signalingState?: string;
  /** `connected` or `completed`: a path works, and libwebrtc stops gathering (TURN included) once one does. */
  readonly iceConnectionState?: string;
  /** Its ufrag tells an ICE restart's gathering from another of the same generation. */
  readonly localDescription?: { readonly sdp?: string } | null;
  /** A succeeded candidate pair: the gathering may have stopped because a path works. */
  getStats?(): Promise<{ forEach(callback: (entry: { type?: string; state?: string }) => void): void }>;
  addEventListener(type: string, listener: (event: unknown) => void): void;
  removeEventListener(type: string, listener: (event: unknown) => void): void;
}

const iceServersOf = (configuration: unknown): IceServerEntry[] => {
  const list = (configuration as { iceServers?: unknown } | null | undefined)?.iceServers;
  return Array.isArray(list) ? list : [];
};

/** `pc`'s configuration now where the stack tells, else `fallback`. */
function configurationOf(pc: ConfigurablePeerConnection, fallback?: unknown): unknown {
  return typeof pc.getConfiguration === 'function' ? pc.getConfiguration() : fallback;
}

/** The username `pc` uses with `url` now, where the stack tells: new credentials make a new problem. */
function usernameFor(pc: ConfigurablePeerConnection, url: string): string {
  const entry = iceServersOf(configurationOf(pc)).find(({ urls }) =>
    typeof urls === 'string' ? urls === url : (urls ?? []).includes(url),
  );
  return entry?.username ?? '';
}

/** The TURN URLs among `servers`. */
function turnUrls(servers: readonly IceServerEntry[]): string[] {
  return servers.flatMap(({ urls }) => (typeof urls === 'string' ? [urls] : [...(urls ?? [])])).filter(isTurnUrl);
}

/** The application's configuration and the server's ICE servers, merged for each connection. */
export class PoolIceServers<Config> {
  readonly #base: Config;
  #server: IceServer[] = [];

  constructor(base: Config) {
    this.#base = base;
  }

  /** Reads the ICE servers of an `rtc:joined` or `rtc:resumed`; true when they changed. */
  receive(message: ServerMessage): boolean {
    if (message.type !== 'rtc:joined' && message.type !== 'rtc:resumed') return false;
    const servers = message.data.ice_servers;
    if (!servers || JSON.stringify(servers) === JSON.stringify(this.#server)) return false;
    this.#server = servers;
    return true;
  }

  /** The configuration for a new connection: the application's, unchanged when the server gave no ICE servers. */
  configuration(): Config {
    if (this.#server.length === 0) return this.#base;
    return { ...(this.#base as object), iceServers: [...iceServersOf(this.#base), ...this.#server] } as Config;
  }

  /**
   * Makes a connection with {@link configuration}. A stack that refuses the
   * server's ICE servers gets the application's configuration alone, and
   * `refused` says why (the pool reports it): a bad list must not end the pool.
   */
  create<PC>(PeerConnection: new (configuration?: Config) => PC): {
    pc: PC;
    refused?: string;
  } {
    const configuration = this.configuration();
    try {
      return { pc: new PeerConnection(configuration) };
    } catch (error) {
      if (configuration === this.#base) throw error;
      return { pc: new PeerConnection(this.#base), refused: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Hands the current ICE servers to an existing connection, for its next
   * ICE restart (`setConfiguration({ ...current, iceServers })`); false where
   * the stack has no `setConfiguration`. May throw what the stack throws.
   */
  update(pc: ConfigurablePeerConnection): boolean {
    if (typeof pc.setConfiguration !== 'function') return false;
    const current = configurationOf(pc, this.#base) as object;
    pc.setConfiguration({ ...current, iceServers: [...iceServersOf(this.#base), ...this.#server] } as never);
    return true;
  }

  /** The TURN URLs `pc` uses now: from the stack where it tells, else from what the pool gave it. */
  turnUrlsOf(pc: ConfigurablePeerConnection): string[] {
    return turnUrls(iceServersOf(configurationOf(pc, this.configuration())));
  }
}

/** One ICE generation of a connection: its first gathering, or the one of an ICE restart. */
interface Round {
  /** Its local ufrag, once known: what tells an ICE restart from a stack gathering again (a network change). */
  ufrag?: string | undefined;
  /** `url code` of each error reported in this generation, and `relay` once the check below has reported. */
  reported: Set<string>;
  relay?: boolean;
  /** The last 7xx from a TURN URL (it did not answer), for the no-relay report. */
  silent?: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** How {@link watchIceServers} watches one connection. */
export interface IceServerWatch {
  /** The remote peer, for the messages. */
  peerId: string;
  /** The longest a gathering may go without a relay candidate while the connection has TURN servers (0: no limit). */
  timeoutMs: number;
  /** The TURN URLs the connection uses now. */
  turnUrls: () => string[];
  /** Called with each problem: an error once per URL, code and credential; no relay candidate once per generation. */
  report: (message: string) => void;
}

/**
 * Watches one connection's ICE generations (the first, one more per ICE
 * restart: told apart by the local ufrag) for TURN servers that cannot be
 * used, and reports:
 *
 * - an `icecandidateerror` with a STUN error code (300-699: 401 for a wrong
 *   or expired credential, 403 forbidden, 486 quota, 508 capacity, ...), at
 *   once, with its URL and the stack's text; once per URL, code and
 *   credential for the connection's life, since a collision's rolled-back
 *   offer and the answer after it are two generations that meet the same
 *   refusal, and only new credentials (a resume) make it news again;
 * - no relay candidate although the connection has TURN servers, when the
 *   gathering ends or `timeoutMs` has passed (an unreachable server: the
 *   stacks report 701 only after about 40 s, and werift reports nothing),
 *   unless an error was reported already or the connection already works
 *   (libwebrtc then stops gathering and may never have asked the server; at
 *   the gathering's end, a succeeded candidate pair in the stats says so
 *   before `iceConnectionState` does).
 *
 * 7xx errors alone are not reported: libwebrtc also fires 701 for every
 * local interface of the wrong address family, on a connection that works.
 */
export function watchIceServers(pc: ConfigurablePeerConnection, watch: IceServerWatch): () => void {
  let round: Round | undefined;
  /** `url code username` of every error reported on this connection. */
  const reportedErrors = new Set<string>();
  const conclude = (current: Round, why: string) => {
    clearTimeout(current.timer);
    // A timer may come due between the pool closing the connection and the watch ending.
    if (pc.signalingState === 'closed') return;
    // libwebrtc stops gathering as soon as a path is writable, so a TURN request may never have been sent:
    // no relay candidate then says nothing about the server (seen behind NATs with direct paths).
    if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') return;
    const urls = watch.turnUrls();
    if (current.relay || current.reported.size > 0 || urls.length === 0) return;
    current.reported.add('relay');
    watch.report(
      `connection to ${watch.peerId}: no relay candidate from ${urls.join(', ')} (${why}${current.silent ? `; last error ${current.silent}` : ''}): the TURN server is unreachable or refused the credential`,
    );
  };
  /** The local ufrag: which ICE generation the connection is in now, where the stack tells. */
  const generation = () => iceUfrag(pc.localDescription?.sdp ?? '');
  /**
   * The round of the current generation: the current round, unless the
   * local ufrag says the generation changed (an ICE restart, or an offer
   * rolled back and another description set) or `fresh` asks for a new one
   * (a stack that does not tell).
   */
  const begin = (fresh = false): Round => {
    const ufrag = generation();
    if (round && !fresh && (ufrag === undefined || round.ufrag === undefined || round.ufrag === ufrag)) {
      round.ufrag ??= ufrag;
      return round;
    }
    if (round) clearTimeout(round.timer);
    const current: Round = { reported: new Set(), ufrag };
    round = current;
    if (watch.timeoutMs > 0 && watch.turnUrls().length > 0) {
      current.timer = setTimeout(() => conclude(current, `none within ${watch.timeoutMs} ms`), watch.timeoutMs);
    }
    return current;
  };
  /**
   * The gathering ended. Events arrive late: the end of a generation since
   * rolled back may come once the next one gathers, so it counts only while
   * the stack still says `complete` and of the current generation. The round
   * stays: what comes later in it (a late error, another gathering after a
   * network change, which brings no new relay candidate) reports nothing twice.
   */
  const end = () => {
    const state = pc.iceGatheringState;
    const ufrag = generation();
    const current = round;
    if (!current || (state !== undefined && state !== 'complete')) return;
    if (ufrag !== undefined && current.ufrag !== undefined && ufrag !== current.ufrag) return;
    if (current.relay || current.reported.size > 0) return;
    // libwebrtc ends the gathering once a pair is writable, and its `complete` can come before
    // iceConnectionState says `connected`: a succeeded pair in the stats says the same, without the race.
    if (typeof pc.getStats !== 'function') return conclude(current, 'gathering ended');
    pc.getStats().then(
      (stats) => {
        let works = false;
        stats.forEach((entry) => {
          if (entry.type === 'candidate-pair' && entry.state === 'succeeded') works = true;
        });
        // A working path ends the round's watch, its timer included: a later disconnection is not the server's.
        if (works) clearTimeout(current.timer);
        else conclude(current, 'gathering ended');
      },
      () => conclude(current, 'gathering ended'),
    );
  };
  const onGathering = () => {
    const state = pc.iceGatheringState;
    if (state === 'complete') end();
    else if (state === 'gathering') begin(generation() === undefined);
  };
  const onCandidate = (event: unknown) => {
    const candidate = (event as { candidate?: { candidate?: unknown; usernameFragment?: unknown } | null } | null)
      ?.candidate;
    const line = candidate?.candidate;
    if (typeof line !== 'string' || !line) return end();
    const ufrag = typeof candidate?.usernameFragment === 'string' ? candidate.usernameFragment : undefined;
    const now = generation();
    if (ufrag && now && ufrag !== now) return; // of a generation since replaced
    const current = begin();
    if (/ typ relay\b/.test(line)) {
      current.relay = true;
      clearTimeout(current.timer);
    }
  };
  const onError = (event: unknown) => {
    const { errorCode: code, errorText, url } = event as { errorCode?: unknown; errorText?: unknown; url?: unknown };
    if (typeof code !== 'number') return;
    const current = begin();
    const server = typeof url === 'string' && url ? url : 'an ICE server';
    const text = `${code} ${typeof errorText === 'string' ? errorText.replace(/\.$/, '') : ''}`;
    if (code >= 700) {
      if (isTurnUrl(server)) current.silent = `${text} (${server})`;
    } else if (code >= 300) {
      // Marked in the round even when not reported again: the round then has its explanation.
      current.reported.add(`${server} ${code}`);
      const key = `${server} ${code} ${usernameFor(pc, server)}`;
      if (reportedErrors.has(key)) return;
      reportedErrors.add(key);
      const hint = code === 401 || code === 441 ? ': a wrong or expired TURN credential' : '';
      watch.report(`connection to ${watch.peerId}: ICE server ${server} answered ${text}${hint}`);
    }
  };
  const listeners: Array<[string, (event: unknown) => void]> = [
    ['icegatheringstatechange', onGathering],
    ['icecandidate', onCandidate],
    ['icecandidateerror', onError],
  ];
  for (const [type, listener] of listeners) pc.addEventListener(type, listener);
  return () => {
    for (const [type, listener] of listeners) pc.removeEventListener(type, listener);
    if (round) clearTimeout(round.timer);
    round = undefined;
  };
}
