/**
 * One signalling server process sharing its pools through Redis, for
 * processes.test.ts: `node --import tsx server-process.ts` with REDIS_URL set.
 * Prints `listening <url>` once it serves; logs (warn and up) go to stderr.
 */

import { createSignallingServer } from '../../../src/server/index.js';
import { consoleLogger } from '../../../src/shared/logger.js';

const redis = process.env.REDIS_URL;
if (!redis) throw new Error('REDIS_URL is not set');
const server = await createSignallingServer({ port: 0, redis, logger: consoleLogger('warn') });
process.stdout.write(`listening ${server.url}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
