/**
 * The Lua scripts of {@link RedisBackplane}, and how the backplane calls them.
 * The keys they use and the helpers they share are in redis-lua.ts.
 */
import type { Redis } from 'ioredis';
import { core, prelude } from './redis-lua.js';

const body = {
  /**
   * ARGV: P, pool, id, maxPeers, mustExist ('1'|'0'), process, token hash, window ms
   * -> {'ok', seq, flat members, log id of the join} | {reason}
   */
  join: `
local pool, id, max, process = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[6]
local key, seqKey = P .. 'members:' .. pool, P .. 'seq:' .. pool
local exists = redis.call('SISMEMBER', P .. 'pools', pool) == 1
if not exists and ARGV[5] == '1' then return {'pool-not-found'} end
if redis.call('HLEN', key) >= max then return {'pool-full'} end
if not exists then
  redis.call('SADD', P .. 'pools', pool)
  keep(pool)
end
local members = redis.call('HGETALL', key)
local seq = tonumber(redis.call('GET', seqKey) or '0')
redis.call('HSET', key, id, process .. ' null')
redis.call('SADD', P .. 'owned:' .. process, entry(pool, id))
local at = append(pool, redis.call('INCR', seqKey), '{"kind":"peer","id":' .. cjson.encode(id) .. '}')
local peers = {}
for i = 1, #members, 2 do table.insert(peers, members[i]) end
redis.call('HSET', P .. 'session:' .. id, 'pool', pool, 'token', ARGV[7], 'seq', seq, 'owner', process, 'gen', 1,
  'win', ARGV[8], 'sent', 0, 'at', at, 'recv', 0, 'peers', table.concat(peers, ' '))
return {'ok', seq, members, at}
`,
  /** ARGV: P, pool, id, gen ('0': any) -> 1 | 0 */
  leave: `
if ARGV[4] ~= '0' and redis.call('HGET', P .. 'session:' .. ARGV[3], 'gen') ~= ARGV[4] then return 0 end
return remove_member(ARGV[2], ARGV[3])
`,
  /** ARGV: P, pool, sender id, its generation ('0': unfenced), relay JSON -> 1 | 0 (the sender's session moved on) */
  relay: `
if ARGV[4] ~= '0' and redis.call('HGET', P .. 'session:' .. ARGV[3], 'gen') ~= ARGV[4] then return 0 end
append(ARGV[2], '-', ARGV[5])
return 1
`,
  /** ARGV: P, id, gen, sent, at, recv, peers -> 1 | 0 (moved on) */
  checkpoint: `
local key = P .. 'session:' .. ARGV[2]
if redis.call('HGET', key, 'gen') ~= ARGV[3] then return 0 end
redis.call('HSET', key, 'sent', ARGV[4], 'at', ARGV[5], 'recv', ARGV[6], 'peers', ARGV[7])
return 1
`,
  /**
   * Takes a session over for a process. ARGV: P, id, token hash, process
   * -> {0} | {1, pool, join seq, gen, description JSON, sent, at, recv, peers, window}
   */
  adopt: `
local id, process = ARGV[2], ARGV[4]
local key = P .. 'session:' .. id
local pool, token, seq, sent, at, recv, peers, win =
  unpack(redis.call('HMGET', key, 'pool', 'token', 'seq', 'sent', 'at', 'recv', 'peers', 'win'))
if not pool or not token or token == '' or token ~= ARGV[3] or not at then return {0} end
local members = P .. 'members:' .. pool
local record = redis.call('HGET', members, id)
if not record then return {0} end
local old = owner_of(record)
local description = string.sub(record, string.len(old) + 2)
redis.call('SREM', P .. 'owned:' .. old, entry(pool, id))
redis.call('HSET', members, id, process .. ' ' .. description)
redis.call('SADD', P .. 'owned:' .. process, entry(pool, id))
redis.call('ZREM', P .. 'detached', id)
local gen = redis.call('HINCRBY', key, 'gen', 1)
redis.call('HSET', key, 'owner', process)
append(pool, '-', '{"kind":"moved","id":' .. cjson.encode(id) .. ',"gen":' .. gen .. '}')
return {1, pool, tonumber(seq), gen, description, tonumber(sent), at, tonumber(recv), peers, tonumber(win)}
`,
  /** ARGV: P, pool, id, description JSON -> 1 | 0 */
  describe: `
local pool, id, description = ARGV[2], ARGV[3], ARGV[4]
local key = P .. 'members:' .. pool
local record = redis.call('HGET', key, id)
if not record then return 0 end
redis.call('HSET', key, id, owner_of(record) .. ' ' .. description)
local payload = '{"kind":"describe","id":' .. cjson.encode(id) .. ',"description":' .. description .. '}'
append(pool, redis.call('INCR', P .. 'seq:' .. pool), payload)
return 1
`,
  /** ARGV: P, pool */
  create: `
local pool = ARGV[2]
redis.call('SADD', P .. 'created', pool)
if redis.call('SADD', P .. 'pools', pool) == 1 then keep(pool) end
return 1
`,
  /** ARGV: P, pool -> 1 | 0 */
  stop: `
local pool = ARGV[2]
if redis.call('SISMEMBER', P .. 'pools', pool) == 0 then return 0 end
local key, seqKey = P .. 'members:' .. pool, P .. 'seq:' .. pool
local members = redis.call('HGETALL', key)
for i = 1, #members, 2 do
  redis.call('SREM', P .. 'owned:' .. owner_of(members[i + 1]), entry(pool, members[i]))
  redis.call('DEL', P .. 'session:' .. members[i])
  redis.call('ZREM', P .. 'detached', members[i])
end
redis.call('DEL', key)
redis.call('SREM', P .. 'pools', pool)
redis.call('SREM', P .. 'created', pool)
local seq = redis.call('INCR', seqKey)
append(pool, seq, '{"kind":"stop"}')
expire(pool)
return 1
`,
  /** ARGV: P, pool -> {0} | {1, flat members} */
  members: `
local pool = ARGV[2]
if redis.call('SISMEMBER', P .. 'pools', pool) == 0 then return {0} end
return {1, redis.call('HGETALL', P .. 'members:' .. pool)}
`,
  /**
   * The heartbeat. ARGV: P, process, ttlMs, epoch candidate -> {epoch, was registered (1|0)}.
   * A process that finds itself unregistered under the same epoch was reaped.
   */
  register: `
local process = ARGV[2]
redis.call('SET', P .. 'epoch', ARGV[4], 'NX')
local added = redis.call('SADD', P .. 'processes', process)
redis.call('SET', P .. 'presence:' .. process, '1', 'PX', ARGV[3])
return {redis.call('GET', P .. 'epoch'), 1 - added}
`,
  /**
   * What a process believes it serves, against what Redis holds. ARGV: P, process, readd ('1'|'0'),
   * then a count and that many created pools, then a count and that many (pool, id, description JSON,
   * session fields) quintuples, the session fields being `gen token seq win` space-separated, then a
   * count and that many (pool, last seen seq) pairs. A member Redis holds as this process's is fine; one
   * orphaned (this process was reaped) in the generation it had is taken back silently. Returns flat
   * (pool, id, verdict) triples for the rest: 'moved' (another process holds its session now) or 'gone'.
   * With readd (Redis lost its data) every member missing is put back silently instead, with its session
   * (without a checkpoint: another process can take it over once its client has acknowledged a frame
   * again), and the created pools and sequence numbers no lower than the ones seen.
   */
  reconcile: `
local process, readd = ARGV[2], ARGV[3] == '1'
local i = 4
local lost = {}
local created = tonumber(ARGV[i]); i = i + 1
for _ = 1, created do
  if readd then
    redis.call('SADD', P .. 'created', ARGV[i])
    redis.call('SADD', P .. 'pools', ARGV[i])
  end
  i = i + 1
end
local count = tonumber(ARGV[i]); i = i + 1
for _ = 1, count do
  local pool, id, description = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local gen, token, seq, win = string.match(ARGV[i + 3], '^(%S+) (%S*) (%S+) (%S+)$')
  i = i + 4
  local key, session = P .. 'members:' .. pool, P .. 'session:' .. id
  local record = redis.call('HGET', key, id)
  local owner = record and owner_of(record)
  if owner ~= process then
    if readd and not record then
      redis.call('HSET', key, id, process .. ' ' .. description)
      redis.call('SADD', P .. 'pools', pool)
      redis.call('SADD', P .. 'owned:' .. process, entry(pool, id))
      redis.call('HSET', session, 'pool', pool, 'token', token, 'seq', seq, 'owner', process, 'gen', gen, 'win', win)
    elseif owner == '-' and redis.call('HGET', session, 'gen') == gen then
      redis.call('HSET', key, id, process .. string.sub(record, 2))
      redis.call('HSET', session, 'owner', process)
      redis.call('ZREM', P .. 'detached', id)
      redis.call('SADD', P .. 'owned:' .. process, entry(pool, id))
    else
      table.insert(lost, pool)
      table.insert(lost, id)
      table.insert(lost, record and 'moved' or 'gone')
    end
  end
end
local seqs = tonumber(ARGV[i]); i = i + 1
for _ = 1, seqs do
  local seqKey, seen = P .. 'seq:' .. ARGV[i], tonumber(ARGV[i + 1])
  local exists = redis.call('SISMEMBER', P .. 'pools', ARGV[i]) == 1
  if readd and exists and tonumber(redis.call('GET', seqKey) or '0') < seen then redis.call('SET', seqKey, seen) end
  i = i + 2
end
return lost
`,
  /**
   * Orphans the members of every process whose presence expired (kept for their resume window, or removed
   * with \`close\`), then removes the orphans whose window has passed. ARGV: P -> flat (process, members) pairs
   */
  reap: `
local reaped = {}
for _, process in ipairs(redis.call('SMEMBERS', P .. 'processes')) do
  if redis.call('EXISTS', P .. 'presence:' .. process) == 0 then
    table.insert(reaped, process)
    table.insert(reaped, remove_process(process, true))
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'detached', '-inf', now_ms())) do
  local pool = redis.call('HGET', P .. 'session:' .. id, 'pool')
  if pool then remove_member(pool, id) else redis.call('ZREM', P .. 'detached', id) end
end
return reaped
`,
  /** A process leaving for good: its members leave (with `close`), then it unregisters. ARGV: P, process -> members */
  retire: `return remove_process(ARGV[2], false)`,
} as const;

export type ScriptName = keyof typeof body;

/** How long a pool's log keeps an event by default: see `RedisBackplaneOptions.logRetentionMs`. */
export const DEFAULT_LOG_RETENTION_MS = 60_000;

/** Each script with the shared helpers in front (the relay with the core alone), for logs kept `retentionMs`. */
export function scriptsFor(retentionMs: number): Record<ScriptName, string> {
  const helpers = prelude(retentionMs);
  const lean = core(retentionMs);
  return Object.fromEntries(
    Object.entries(body).map(([name, lua]) => [name, (name === 'relay' ? lean : helpers) + lua]),
  ) as Record<ScriptName, string>;
}

/** The scripts with the default retention. */
export const SCRIPTS = scriptsFor(DEFAULT_LOG_RETENTION_MS);

type Arg = string | number;

/**
 * The scripts as the backplane calls them: the arguments each one parses,
 * and its reply as Redis sends it back (a Lua table is an array, a Lua number
 * an integer). The reply types restate the Lua above; keep them together.
 */
export interface Scripts {
  /** Redis held `members` (flat id, `<process> <description JSON>`) as of sequence number `seq`, then added `id`. */
  join(
    pool: string,
    id: string,
    maxPeers: number,
    mustExist: boolean,
    process: string,
    session: { tokenHash: string; windowMs: number },
  ): Promise<[verdict: 'ok', seq: number, members: string[], at: string] | [verdict: 'pool-full' | 'pool-not-found']>;
  /** `gen` 0: whatever the session's generation. */
  leave(pool: string, id: string, gen: number): Promise<0 | 1>;
  /** 0 when the sender's session is no longer generation `gen` (0: unfenced); the relay was not published. */
  relay(pool: string, sender: string, gen: number, relayJson: string): Promise<0 | 1>;
  checkpoint(id: string, gen: number, sent: number, at: string, received: number, peers: string): Promise<0 | 1>;
  adopt(
    id: string,
    tokenHash: string,
    process: string,
  ): Promise<
    | [found: 0]
    | [
        found: 1,
        pool: string,
        joinSeq: number,
        gen: number,
        descriptionJson: string,
        sent: number,
        at: string,
        received: number,
        peers: string,
        windowMs: number,
      ]
  >;
  describe(pool: string, id: string, descriptionJson: string): Promise<0 | 1>;
  create(pool: string): Promise<1>;
  stop(pool: string): Promise<0 | 1>;
  /** `[0]` when there is no such pool, else `[1, flat (id, <process> <description JSON>)]`. */
  members(pool: string): Promise<[exists: 0] | [exists: 1, members: string[]]>;
  /** `known` is 0 when the process was not registered (new, reaped, or Redis lost its data). */
  register(process: string, ttlMs: number, epochCandidate: string): Promise<[epoch: string, known: 0 | 1]>;
  /** Flat (pool, id, 'moved' | 'gone') triples of the members Redis did not hold for `process`. */
  reconcile(process: string, readd: boolean, state: ServedState): Promise<string[]>;
  /** Flat (process, members it had) pairs for every process reaped. */
  reap(): Promise<Array<string | number>>;
  /** How many members the process still had. */
  retire(process: string): Promise<number>;
}

/** What a process believes it serves, for `reconcile`. */
export interface ServedState {
  created: ReadonlyArray<string>;
  /** `session`: `<gen> <token hash> <join seq> <window ms>`. */
  members: ReadonlyArray<readonly [pool: string, id: string, descriptionJson: string, session: string]>;
  seen: ReadonlyArray<readonly [pool: string, seq: number]>;
}

/** The method name `defineCommand` gives a script on the connection. */
type Defined = { [Name in ScriptName as `rtcpool_${Name}`]: (...args: Arg[]) => Promise<unknown> };

/**
 * Defines every script on `redis` with ioredis's `defineCommand`, which sends
 * a script in full (EVAL) the first time on each connection, EVALSHA after
 * that, and in full again when Redis answers NOSCRIPT (its script cache was
 * flushed), so neither a reconnect nor a SCRIPT FLUSH needs anything from us.
 */
export function defineScripts(redis: Redis, prefix: string, retentionMs: number): Scripts {
  const scripts = scriptsFor(retentionMs);
  for (const name of Object.keys(scripts) as ScriptName[]) {
    redis.defineCommand(`rtcpool_${name}`, { numberOfKeys: 0, lua: scripts[name] });
  }
  // The methods defineCommand just added; ioredis's own types cannot name them.
  const defined = redis as Redis & Defined;
  const flag = (value: boolean) => (value ? '1' : '0');
  return {
    join: (pool, id, maxPeers, mustExist, process, session) =>
      defined.rtcpool_join(
        prefix,
        pool,
        id,
        maxPeers,
        flag(mustExist),
        process,
        session.tokenHash,
        session.windowMs,
      ) as ReturnType<Scripts['join']>,
    leave: (pool, id, gen) => defined.rtcpool_leave(prefix, pool, id, gen) as ReturnType<Scripts['leave']>,
    relay: (pool, sender, gen, json) =>
      defined.rtcpool_relay(prefix, pool, sender, gen, json) as ReturnType<Scripts['relay']>,
    checkpoint: (id, gen, sent, at, received, peers) =>
      defined.rtcpool_checkpoint(prefix, id, gen, sent, at, received, peers) as ReturnType<Scripts['checkpoint']>,
    adopt: (id, tokenHash, process) =>
      defined.rtcpool_adopt(prefix, id, tokenHash, process) as ReturnType<Scripts['adopt']>,
    describe: (pool, id, json) => defined.rtcpool_describe(prefix, pool, id, json) as ReturnType<Scripts['describe']>,
    create: (pool) => defined.rtcpool_create(prefix, pool) as ReturnType<Scripts['create']>,
    stop: (pool) => defined.rtcpool_stop(prefix, pool) as ReturnType<Scripts['stop']>,
    members: (pool) => defined.rtcpool_members(prefix, pool) as ReturnType<Scripts['members']>,
    register: (process, ttlMs, candidate) =>
      defined.rtcpool_register(prefix, process, ttlMs, candidate) as ReturnType<Scripts['register']>,
    reconcile: (process, readd, { created, members, seen }) =>
      defined.rtcpool_reconcile(
        prefix,
        process,
        flag(readd),
        created.length,
        ...created,
        members.length,
        ...members.flat(),
        seen.length,
        ...seen.flat(),
      ) as ReturnType<Scripts['reconcile']>,
    reap: () => defined.rtcpool_reap(prefix) as ReturnType<Scripts['reap']>,
    retire: (process) => defined.rtcpool_retire(prefix, process) as ReturnType<Scripts['retire']>,
  };
}
