/**
 * The printed part: per-size medians of both servers, the ratios ours/bare
 * against the issue's targets, and the soak's heap trend.
 */

/** The issue's targets, each a ratio against the bare relay measured in the same run. */
export const TARGETS = {
  /** Our throughput at saturation over the bare relay's, at these sizes. */
  throughputRatio: 0.9,
  throughputAtClients: [5000, 10000],
  /** Our p99 relay latency at the paced load over the bare relay's, at most, at every size. */
  p99Ratio: 1.2,
  /** Our heap per idle joined client over the bare relay's, at most, at every size. */
  heapRatio: 1.2,
};

export type Implementation = 'ours' | 'bare' | 'ours-cluster';

/** One round of one server at one size. */
export interface RoundResult {
  throughput: number;
  /** Server CPU (all its processes) during the saturation window, as a share of one core. */
  serverCpu: number;
  loadCpu: number;
  p50: number;
  p99: number;
  /** Offered and delivered rate during the latency window. */
  pacedRate: number;
  /**
   * Server CPU (all its processes) per frame relayed during the latency window, µs. Neither the server nor the load
   * generator is saturated then, so this moves less from run to run than the throughput.
   */
  pacedCpuPerFrameUs: number;
  heapPerClient: number;
  /** The same 1 s after the last join, before any heartbeat. */
  heapAtJoinPerClient: number;
  /** The same at the end of the paced (latency) window, traffic still flowing. */
  heapLoadedPerClient: number;
  rssPerClient: number;
  connectMs: number;
  errors: Record<string, number>;
  /**
   * Cluster only: Redis's used memory growth over the round's paced and saturation windows (the pools' logs
   * keep every event of the last 60 s), per event relayed in them, bytes.
   */
  redisBytesPerEvent?: number;
}

export interface Summary extends RoundResult {
  implementation: Implementation;
  size: number;
  throughputByRound: number[];
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

export function summarize(implementation: Implementation, size: number, rounds: RoundResult[]): Summary {
  const of = (key: Exclude<keyof RoundResult, 'errors' | 'redisBytesPerEvent'>) =>
    median(rounds.map((round) => round[key]));
  const redis = rounds.flatMap((round) => (round.redisBytesPerEvent === undefined ? [] : [round.redisBytesPerEvent]));
  const errors: Record<string, number> = {};
  for (const round of rounds) {
    for (const [reason, count] of Object.entries(round.errors)) errors[reason] = (errors[reason] ?? 0) + count;
  }
  return {
    implementation,
    size,
    throughput: of('throughput'),
    serverCpu: of('serverCpu'),
    loadCpu: of('loadCpu'),
    p50: of('p50'),
    p99: of('p99'),
    pacedRate: of('pacedRate'),
    pacedCpuPerFrameUs: of('pacedCpuPerFrameUs'),
    heapPerClient: of('heapPerClient'),
    heapAtJoinPerClient: of('heapAtJoinPerClient'),
    heapLoadedPerClient: of('heapLoadedPerClient'),
    rssPerClient: of('rssPerClient'),
    connectMs: of('connectMs'),
    errors,
    throughputByRound: rounds.map((round) => round.throughput),
    ...(redis.length > 0 && { redisBytesPerEvent: median(redis) }),
  };
}

const cell = (text: string, width: number) => text.padStart(width);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const pct = (share: number) => `${(share * 100).toFixed(0)}%`;

export function printTable(summaries: Summary[], rate: number): void {
  console.log('');
  console.log(
    'msg/s: frames relayed per second at saturation (closed loop, at most 45 msg/s per client); per cpu-s: the same\n' +
      'per second of server CPU (steadier than msg/s when other work shares the cores); srv/load: CPU share of one core\n' +
      `meanwhile; p50/p99: relay latency at ${rate} msg/s per client (open loop); cpu/frame: server CPU per frame\n` +
      'relayed at that paced load (neither side saturated; includes our heartbeat\u2019s fixed work); heap/cl: server heapUsed after GC with\n' +
      'every client joined and idle for a heartbeat, minus before any client, per client; @join: the same 1 s after the\n' +
      'joins; @load: the same at the end of the paced window, traffic flowing; rss/cl likewise, for information. Medians over rounds; each round\u2019s msg/s on the right.',
  );
  console.log(
    `${cell('clients', 7)}  ${'server'.padEnd(12)}${cell('msg/s', 8)}${cell('per cpu-s', 10)}${cell('srv', 6)}${cell('load', 6)}` +
      `${cell('p50', 11)}${cell('p99', 11)}${cell('cpu/frame', 10)}${cell('heap/cl', 10)}${cell('@join', 10)}${cell('@load', 10)}${cell('rss/cl', 10)}${cell('connect', 8)}   rounds`,
  );
  for (const s of summaries) {
    console.log(
      `${cell(String(s.size), 7)}  ${s.implementation.padEnd(12)}${cell(s.throughput.toFixed(0), 8)}` +
        `${cell((s.throughput / s.serverCpu).toFixed(0), 10)}${cell(pct(s.serverCpu), 6)}${cell(pct(s.loadCpu), 6)}` +
        `${cell(`${s.p50.toFixed(2)} ms`, 11)}${cell(`${s.p99.toFixed(2)} ms`, 11)}` +
        `${cell(`${s.pacedCpuPerFrameUs.toFixed(1)} µs`, 10)}${cell(kb(s.heapPerClient), 10)}` +
        `${cell(kb(s.heapAtJoinPerClient), 10)}${cell(kb(s.heapLoadedPerClient), 10)}${cell(kb(s.rssPerClient), 10)}` +
        `${cell(`${(s.connectMs / 1000).toFixed(1)} s`, 8)}   ${s.throughputByRound.map((t) => t.toFixed(0)).join(' ')}`,
    );
    const errors = Object.entries(s.errors);
    if (errors.length)
      console.log(`${' '.repeat(9)}rtc:error seen: ${errors.map(([r, n]) => `${r} ×${n}`).join(', ')}`);
  }
}

export interface Verdict {
  label: string;
  met: boolean;
  detail: string;
}

/** Ratios ours/bare per size and every target met or missed. */
export function printTargets(summaries: Summary[]): Verdict[] {
  const verdicts: Verdict[] = [];
  console.log('');
  console.log('ours/bare (medians), against the targets:');
  for (const size of new Set(summaries.map((s) => s.size))) {
    const ours = summaries.find((s) => s.size === size && s.implementation === 'ours');
    const bare = summaries.find((s) => s.size === size && s.implementation === 'bare');
    if (!ours || !bare) continue;
    const ratio = ours.throughput / bare.throughput;
    const cpuRatio = ours.throughput / ours.serverCpu / (bare.throughput / bare.serverCpu);
    const heapRatio = ours.heapPerClient / bare.heapPerClient;
    const p99Ratio = ours.p99 / bare.p99;
    const heapMet = heapRatio <= TARGETS.heapRatio;
    const p99Met = p99Ratio <= TARGETS.p99Ratio;
    const mark = (met: boolean) => (met ? 'MET' : 'MISSED');
    let line = `  ${size} clients: throughput ${ratio.toFixed(2)}x`;
    if (TARGETS.throughputAtClients.includes(size)) {
      const ratioMet = ratio >= TARGETS.throughputRatio;
      line += ` (≥ ${TARGETS.throughputRatio}x: ${mark(ratioMet)})`;
      verdicts.push({ label: `${size} throughput`, met: ratioMet, detail: `${ratio.toFixed(2)}x` });
    }
    line +=
      ` (per server cpu-s ${cpuRatio.toFixed(2)}x; cpu per frame at the paced load ${(ours.pacedCpuPerFrameUs / bare.pacedCpuPerFrameUs).toFixed(2)}x); ` +
      `heap ${heapRatio.toFixed(2)}x, ${kb(ours.heapPerClient)}/client (≤ ${TARGETS.heapRatio}x: ${mark(heapMet)}); ` +
      `p99 ${p99Ratio.toFixed(2)}x, ${ours.p99.toFixed(2)} ms, bare ${bare.p99.toFixed(2)} ms (≤ ${TARGETS.p99Ratio}x: ${mark(p99Met)})`;
    verdicts.push({ label: `${size} heap`, met: heapMet, detail: `${heapRatio.toFixed(2)}x` });
    verdicts.push({ label: `${size} p99`, met: p99Met, detail: `${p99Ratio.toFixed(2)}x` });
    console.log(line);
    if (ours.loadCpu > 0.9 || bare.loadCpu > 0.9) {
      console.log(
        `    note: the load generator used ${pct(Math.max(ours.loadCpu, bare.loadCpu))} of a core: the throughput may be the load generator's ceiling, not the server's`,
      );
    }
  }
  return verdicts;
}

/** The cluster against one process of ours and against the bare relay, per size (informational: no target). */
export function printClusterRatios(summaries: Summary[]): void {
  console.log('');
  console.log('the cluster (all its processes) against one process of ours and against the bare relay (medians):');
  for (const size of new Set(summaries.map((s) => s.size))) {
    const of = (implementation: Implementation) =>
      summaries.find((s) => s.size === size && s.implementation === implementation);
    const cluster = of('ours-cluster');
    if (!cluster) continue;
    const against = (other: Summary | undefined, name: string) =>
      other
        ? `${name}: throughput ${(cluster.throughput / other.throughput).toFixed(2)}x, ` +
          `p50 ${(cluster.p50 / other.p50).toFixed(2)}x, p99 ${(cluster.p99 / other.p99).toFixed(2)}x, ` +
          `heap per idle client ${(cluster.heapPerClient / other.heapPerClient).toFixed(2)}x`
        : `${name}: not measured`;
    console.log(`  ${size} clients: ${against(of('ours'), 'vs one process')}; ${against(of('bare'), 'vs bare')}`);
    if (cluster.redisBytesPerEvent !== undefined) {
      console.log(
        `  Redis memory for the pools' logs: ${cluster.redisBytesPerEvent.toFixed(0)} bytes per event relayed ` +
          '(growth of used_memory over the paced and saturation windows, all kept by the 60 s retention)',
      );
    }
  }
}

/** Least-squares slope of y over x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((sum, p) => sum + p.x, 0) / n;
  const my = points.reduce((sum, p) => sum + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}
