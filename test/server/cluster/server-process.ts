/**
 * One signalling server process sharing its pools through Redis, for
 * the cluster tests: `node --import tsx server-process.ts` with REDIS_URL set
 * (and RESUME_WINDOW_MS, to change the server's `resumeWindowMs`).
 * Prints `listening <url>` once it serves; logs (warn and up) go to stderr.
 */

import { createSignallingServer } from '../../../src/server/index.js';
import { consoleLogger } from '../../../src/shared/logger.js';

const redis = process.env.REDIS_URL;
if (!redis) throw new Error('REDIS_URL is not set');
const resumeWindowMs = process.env.RESUME_WINDOW_MS ? Number(process.env.RESUME_WINDOW_MS) : undefined;
const server = await createSignallingServer({
  port: 0,
  redis,
  logger: consoleLogger('warn'),
  ...(resumeWindowMs !== undefined && { resumeWindowMs }),
});
process.stdout.write(`listening ${server.url}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
