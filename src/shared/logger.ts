/** Where a log line comes from. */
export type LogArea = 'pool' | 'negotiation' | 'signal' | 'server';
/** How much a log line matters, from per-message detail (`debug`) to a crash (`error`). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * The one logging interface rtcpool writes to. Silent unless you pass one:
 * one `info` line per lifecycle transition, per-message detail at `debug`.
 *
 * @example
 * createNegotiationActor({ pc, polite, send, logger: consoleLogger('info') });
 */
export interface Logger {
  /** Writes one line; `data` holds its fields (peer id, error code, ...) for structured logs. */
  log(level: LogLevel, area: LogArea, message: string, data?: Record<string, unknown>): void;
}

/** Drops every line: the default wherever a logger is optional. */
export const silentLogger: Logger = { log: () => undefined };

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Logs to the console at `minimum` and above. */
export function consoleLogger(minimum: LogLevel = 'info'): Logger {
  return {
    log(level, area, message, data) {
      if (rank[level] < rank[minimum]) return;
      const line = `[rtcpool:${area}] ${message}`;
      if (data === undefined) console[level](line);
      else console[level](line, data);
    },
  };
}
