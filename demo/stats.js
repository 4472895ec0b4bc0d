// @ts-check
/**
 * Each peer's connection, measured: one `connection.getStats()` per peer per
 * second, boiled down to the line shown in its row of the peer list: the
 * connection state, the selected candidate pair's local candidate type
 * (host, srflx, prflx, relay), its round-trip time, and the bitrate in and
 * out (the byte counters' growth since the previous poll).
 *
 * Polling starts with the `peer` event and stops when the peer leaves or the
 * pool ends ({@link ConnectionStats.unwatch}, {@link ConnectionStats.reset});
 * one timer serves every peer, and a peer whose previous `getStats` has not
 * answered yet is skipped rather than asked twice.
 */

/** How often each connection is measured, in ms. */
export const STATS_INTERVAL_MS = 1000;

/**
 * What the line shows; null where the report does not say (yet).
 *
 * @typedef {object} StatsLine
 * @property {string} state the connection state: `new`, `connecting`, `connected`, `disconnected`, `failed`, `closed`
 * @property {string | null} candidateType the selected pair's local candidate: `host`, `srflx`, `prflx` or `relay`
 * @property {number | null} rttMs the selected pair's current round-trip time
 * @property {number | null} inKbps received, over the last interval
 * @property {number | null} outKbps sent, over the last interval
 */

/**
 * Byte counters from one report, to take the next one's difference from.
 *
 * @typedef {object} Counters
 * @property {string} source the report they came from (a transport, or a candidate pair when the browser has no transport stats)
 * @property {number} timestamp ms
 * @property {number} bytesSent
 * @property {number} bytesReceived
 */

/**
 * @typedef {object} Watched
 * @property {import('./lib.js').ManagedConnection} connection
 * @property {Counters | null} previous
 * @property {boolean} busy a getStats is in flight
 * @property {() => void} onState
 */

export class ConnectionStats {
  /**
   * @param {object} options
   * @param {(peerId: string, line: StatsLine) => void} options.onStats
   * @param {number} [options.intervalMs]
   */
  constructor({ onStats, intervalMs = STATS_INTERVAL_MS }) {
    this.onStats = onStats;
    this.intervalMs = intervalMs;
    /** @type {Map<string, Watched>} */
    this.watched = new Map();
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
  }

  /** How many connections are being polled. */
  get size() {
    return this.watched.size;
  }

  /** @param {import('./lib.js').ManagedConnection} connection a new peer: measured now and every interval */
  watch(connection) {
    const { id } = connection;
    if (this.watched.has(id)) return;
    /** @type {Watched} */
    const entry = { connection, previous: null, busy: false, onState: () => this.#poll(id, entry) };
    // A change of state is shown at once rather than at the next tick.
    connection.addEventListener('connectionstatechange', entry.onState);
    this.watched.set(id, entry);
    this.timer ??= setInterval(() => {
      for (const [peerId, each] of this.watched) this.#poll(peerId, each);
    }, this.intervalMs);
    this.#poll(id, entry);
  }

  /** @param {string} peerId the peer left: its polling stops */
  unwatch(peerId) {
    const entry = this.watched.get(peerId);
    if (!entry) return;
    entry.connection.removeEventListener('connectionstatechange', entry.onState);
    this.watched.delete(peerId);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** The pool ended: every polling stops. */
  reset() {
    for (const peerId of [...this.watched.keys()]) this.unwatch(peerId);
  }

  /**
   * @param {string} peerId
   * @param {Watched} entry
   */
  async #poll(peerId, entry) {
    if (entry.busy) return;
    entry.busy = true;
    try {
      const report = await entry.connection.getStats();
      // The peer left (or came back as another connection) while the browser gathered the report.
      if (this.watched.get(peerId) !== entry) return;
      const { line, counters } = summarise(report, entry.previous, entry.connection.connectionState);
      entry.previous = counters;
      this.onStats(peerId, line);
    } catch {
      // A closed connection has no statistics left; its row goes with the peer.
    } finally {
      entry.busy = false;
    }
  }
}

/**
 * Reads one `RTCStatsReport`.
 *
 * The selected candidate pair is the transport's `selectedCandidatePairId`
 * (the standard, Chromium and Safari), or the pair marked `selected`
 * (Firefox, which has no transport stats). The byte counters are the
 * transport's when there is one: they run on across a change of pair (an
 * ICE restart), where a new pair's own counters start again from zero.
 *
 * @param {RTCStatsReport} report
 * @param {Counters | null} previous the counters of the previous poll of the same connection
 * @param {string} state the connection state
 * @returns {{ line: StatsLine, counters: Counters | null }}
 */
export function summarise(report, previous, state) {
  /** @type {any} */
  let transport = null;
  /** @type {any} */
  let pair = null;
  for (const stats of report.values()) {
    if (stats.type === 'transport' && stats.selectedCandidatePairId) {
      transport = stats;
      pair = report.get(stats.selectedCandidatePairId) ?? null;
      break;
    }
    if (stats.type === 'candidate-pair' && stats.selected) pair = stats;
  }
  const local = pair ? report.get(pair.localCandidateId) : undefined;
  const rtt = pair?.currentRoundTripTime;
  const source = transport ?? pair;
  /** @type {Counters | null} */
  const counters =
    source && typeof source.bytesSent === 'number' && typeof source.bytesReceived === 'number'
      ? {
          source: source.id,
          timestamp: source.timestamp,
          bytesSent: source.bytesSent,
          bytesReceived: source.bytesReceived,
        }
      : null;
  const elapsed = counters && previous?.source === counters.source ? counters.timestamp - previous.timestamp : 0;
  /** @param {number} now @param {number} before */
  const kbps = (now, before) => (elapsed > 0 && now >= before ? ((now - before) * 8) / elapsed : null);
  return {
    line: {
      state,
      candidateType: typeof local?.candidateType === 'string' ? local.candidateType : null,
      rttMs: typeof rtt === 'number' ? rtt * 1000 : null,
      inKbps: counters && previous ? kbps(counters.bytesReceived, previous.bytesReceived) : null,
      outKbps: counters && previous ? kbps(counters.bytesSent, previous.bytesSent) : null,
    },
    counters,
  };
}
