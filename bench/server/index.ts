/**
 * How much signalling our server relays, how fast and in how much memory,
 * next to a bare `ws` relay (the floor) in the same run. See bench/server/README.md.
 *
 *   npm run bench:server     # raises `ulimit -n` to the hard limit, then:
 *   npx tsx bench/server/index.ts [--sizes 1000,5000,10000] [--rounds 3] [--rate 1]
 *                                 [--latency-seconds 6] [--throughput-seconds 4] [--profile]
 *   npx tsx bench/server/index.ts --cluster [--sizes 10000] [--rounds 1]   # cluster, single and bare
 *   npx tsx bench/server/index.ts --soak [minutes] [--sizes 1000] [--rate 1] [--cluster]
 *
 * Every server runs in its own process (forked with --expose-gc), the
 * clients in another; this process only orchestrates. Rounds alternate which
 * server goes first; medians are printed with the ratios ours/bare and the
 * issue's targets. A missed target is reported (exit 0); a round that fails
 * aborts the run (exit 1).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { openFileLimit } from './child.js';
import { startRedis } from './redis.js';
import {
  type Implementation,
  printClusterRatios,
  printTable,
  printTargets,
  type RoundResult,
  type Summary,
  summarize,
} from './report.js';
import { type RoundOptions, runRound, type Servers, startServers, urlsOf } from './round.js';
import { runSoak } from './soak.js';

/** The server's rate limit is 50/s per connection; saturation stays under it. */
const MAX_RATE = 45;
const CLUSTER_PROCESSES = 3;
/** Longer than the server's heartbeat interval (10 s): see round.ts. */
const IDLE_SECONDS = 11;

function readOptions() {
  // `--soak` takes an optional number of minutes: parseArgs wants a value, so give it the default.
  const argv = process.argv.slice(2);
  const soakAt = argv.indexOf('--soak');
  if (soakAt !== -1 && !/^\d+(\.\d+)?$/.test(argv[soakAt + 1] ?? '')) argv.splice(soakAt + 1, 0, '10');
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      rate: { type: 'string', default: '1' },
      'latency-seconds': { type: 'string', default: '6' },
      'throughput-seconds': { type: 'string', default: '4' },
      window: { type: 'string', default: '2000' },
      cluster: { type: 'boolean', default: false },
      soak: { type: 'string' },
      profile: { type: 'boolean', default: false },
    },
  });
  const positive = (name: string, value: string, integer = true) => {
    const number = Number(value);
    if (!(number > 0) || (integer && !Number.isInteger(number))) throw new Error(`--${name}: a positive number`);
    return number;
  };
  const sizes = (values.sizes ?? (values.soak === undefined ? '1000,5000,10000' : '1000')).split(',').map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size < 2)) throw new Error('--sizes: integers of at least 2');
  const rate = positive('rate', values.rate, false);
  if (rate >= MAX_RATE) throw new Error(`--rate: under ${MAX_RATE} msg/s per client (the server allows 50/s)`);
  return {
    sizes,
    rounds: positive('rounds', values.rounds),
    rate,
    latencySeconds: positive('latency-seconds', values['latency-seconds'], false),
    throughputSeconds: positive('throughput-seconds', values['throughput-seconds'], false),
    window: positive('window', values.window),
    cluster: values.cluster,
    soakMinutes: values.soak === undefined ? null : positive('soak', values.soak, false),
    profile: values.profile,
  };
}

type Options = ReturnType<typeof readOptions>;

/** Every process holds one socket per client it serves (the load generator all of them), plus its own files. */
function checkOpenFiles(largest: number): void {
  const limit = openFileLimit();
  const needed = largest + 256;
  console.log(
    limit
      ? `open-file limit: ${limit.soft} (hard ${limit.hard}); ${largest} clients need about ${needed}`
      : 'open-file limit: unknown (no /proc/self/limits)',
  );
  if (limit && limit.soft < needed) {
    throw new Error(
      `the open-file limit (ulimit -n) is ${limit.soft}, too low for ${largest} clients (about ${needed} needed). ` +
        `Run \`npm run bench:server\`, which raises it to the hard limit (${limit.hard}), or raise it yourself` +
        (limit.hard < needed ? ` (the hard limit ${limit.hard} is too low too: pass smaller --sizes)` : ''),
    );
  }
}

/** Fails unless the server has the `redis` option and two of its processes really share a pool. */
async function checkCluster(servers: Servers): Promise<void> {
  const options = readFileSync(new URL('../../src/server/options.ts', import.meta.url), 'utf8');
  if (!/\bredis\??:/.test(options)) {
    throw new Error(
      '--cluster: the server has no `redis` option yet (src/server/options.ts); cluster mode needs createSignallingServer({ redis })',
    );
  }
  const [first, second] = urlsOf(servers).map((url) => `${url.replace(/^http/, 'ws')}/ws`);
  const join = (url: string | undefined) =>
    new Promise<{ id: string; peers: string[]; ws: WebSocket }>((resolve, reject) => {
      const ws = new WebSocket(url ?? '');
      const timer = setTimeout(() => reject(new Error('no rtc:joined within 5 s')), 5000);
      ws.once('error', reject);
      ws.once('open', () => ws.send(JSON.stringify({ type: 'rtc:join', data: { pool: 'cluster-probe' } })));
      ws.on('message', (raw: Buffer) => {
        const { type, data } = JSON.parse(raw.toString()) as {
          type: string;
          data: { client_id: string; peers: string[] };
        };
        if (type !== 'rtc:joined') return;
        clearTimeout(timer);
        resolve({ id: data.client_id, peers: data.peers, ws });
      });
    });
  const a = await join(first);
  const b = await join(second);
  a.ws.terminate();
  b.ws.terminate();
  if (!b.peers.includes(a.id)) {
    throw new Error(
      '--cluster: a pool joined through two server processes did not span them: the server ignores `redis` (no Redis backplane yet?)',
    );
  }
}

/** One server setup a round measures: our server on one process or on a cluster, or the bare relay. */
interface Contender {
  label: Implementation;
  implementation: 'ours' | 'bare';
  processes: number;
}

const SINGLE: Contender = { label: 'ours', implementation: 'ours', processes: 1 };
const BARE: Contender = { label: 'bare', implementation: 'bare', processes: 1 };
const CLUSTER: Contender = { label: 'ours-cluster', implementation: 'ours', processes: CLUSTER_PROCESSES };

/** Each round starts with the next contender, so that none always runs first (or last) on the shared cores. */
function roundOrder(contenders: readonly Contender[], round: number): Contender[] {
  const shift = round % contenders.length;
  return [...contenders.slice(shift), ...contenders.slice(0, shift)];
}

function roundLine(implementation: Implementation, result: RoundResult): string {
  return (
    `${implementation} ${result.throughput.toFixed(0)} msg/s (srv ${(result.serverCpu * 100).toFixed(0)}%, ` +
    `load ${(result.loadCpu * 100).toFixed(0)}%), p99 ${result.p99.toFixed(2)} ms, ` +
    `${(result.heapPerClient / 1024).toFixed(2)} KB/client`
  );
}

async function benchmark(options: Options): Promise<void> {
  let redis: Awaited<ReturnType<typeof startRedis>> | null = null;
  const summaries: Summary[] = [];
  try {
    if (options.cluster) {
      redis = await startRedis();
      console.log(`cluster: ${CLUSTER_PROCESSES} server processes sharing pools through ${redis.url}`);
      const probe = await startServers({ implementation: 'ours', processes: 2, redis: redis.url, serverFlags: [] });
      try {
        await checkCluster(probe);
      } finally {
        await Promise.all(probe.map((server) => server.stop()));
      }
    }
    const serverFlags = options.profile ? ['--cpu-prof', '--cpu-prof-dir=bench/server/profiles'] : [];
    if (options.profile) console.log('profiling our server: --cpu-prof into bench/server/profiles/');
    // Cluster mode measures the single process and the bare relay in the same run too: the cluster's cost is a ratio.
    const contenders = options.cluster ? [CLUSTER, SINGLE, BARE] : [SINGLE, BARE];
    for (const size of options.sizes) {
      const results = new Map<Implementation, RoundResult[]>(contenders.map(({ label }) => [label, []]));
      for (let round = 0; round < options.rounds; round += 1) {
        const line: string[] = [];
        for (const { label, implementation, processes } of roundOrder(contenders, round)) {
          const roundOptions: RoundOptions = {
            implementation,
            processes,
            ...(redis && processes > 1 ? { redis: redis.url } : {}),
            clients: size,
            poolPrefix: `r${round}-${label}`,
            rate: options.rate,
            latencySeconds: options.latencySeconds,
            throughputSeconds: options.throughputSeconds,
            window: options.window,
            maxRate: MAX_RATE,
            idleSeconds: IDLE_SECONDS,
            serverFlags,
          };
          const result = await runRound(roundOptions);
          results.get(label)?.push(result);
          line.push(roundLine(label, result));
        }
        console.log(`  ${size} clients, round ${round + 1}/${options.rounds}: ${line.join('; ')}`);
      }
      for (const { label } of contenders) summaries.push(summarize(label, size, results.get(label) ?? []));
    }
  } finally {
    await redis?.stop();
  }
  printTable(summaries, options.rate);
  if (options.cluster) printClusterRatios(summaries);
  const verdicts = printTargets(summaries);
  console.log('');
  console.log(
    `verdict: ${verdicts.every((v) => v.met) ? 'PASS' : 'MISS'} ` +
      `(${verdicts.map((v) => `${v.label} ${v.met ? 'met' : 'missed'}: ${v.detail}`).join('; ')})`,
  );
}

/** The soak, on one process or (`--cluster`) on the cluster with its own Redis. */
async function soak(options: Options, soakMinutes: number): Promise<void> {
  const redis = options.cluster ? await startRedis() : null;
  try {
    await runSoak({
      ...options,
      soakMinutes,
      maxRate: MAX_RATE,
      processes: redis ? CLUSTER_PROCESSES : 1,
      redis: redis?.url,
    });
  } finally {
    await redis?.stop();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const options = readOptions();
  const [load] = loadavg();
  console.log(
    `server benchmark: node ${process.version}, ${availableParallelism()} cores, load average ${load?.toFixed(1)}; ` +
      (options.soakMinutes === null
        ? `sizes ${options.sizes.join(', ')}; ${options.rounds} rounds each; ${options.cluster ? `our cluster of ${CLUSTER_PROCESSES}, ours and bare in turn` : 'ours and bare alternating'}`
        : `soak ${options.soakMinutes} min at ${options.sizes[0]} clients${options.cluster ? ', cluster' : ''}`),
  );
  console.log(
    'our server: createSignallingServer defaults (rate limit 50/s burst 200 per connection, heartbeat 10 s/20 s, ' +
      'maxPeersPerPool 32, socket.io on); host 127.0.0.1, port 0' +
      (options.cluster ? `; redis: redis://127.0.0.1:<port> (cluster mode)` : ''),
  );
  checkOpenFiles(Math.max(...options.sizes));
  if (options.soakMinutes !== null) await soak(options, options.soakMinutes);
  else await benchmark(options);
  const [loadAfter] = loadavg();
  console.log(
    `run took ${((performance.now() - started) / 1000).toFixed(0)} s; load average now ${loadAfter?.toFixed(1)} ` +
      `on ${availableParallelism()} cores (numbers move when other work shares them)`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
