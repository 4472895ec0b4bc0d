/**
 * The Lua side of {@link RedisBackplane}: every change to a pool runs as one
 * script that changes the state, bumps the pool's sequence number and
 * publishes the event, so the order of states and the order of events are
 * the same order (Redis runs one script at a time).
 *
 * Keys (P is the prefix, `rtcpool:` by default); the kind comes before the
 * pool name so that no pool name can make two keys collide:
 *
 * | key | type | holds |
 * |---|---|---|
 * | P`pools` | set | every pool that exists |
 * | P`created` | set | pools made by `createPool` (kept when empty) |
 * | P`members:`pool | hash | member id -> `<process> <description JSON>` |
 * | P`seq:`pool | string | the pool's sequence number (kept an hour after the pool is forgotten) |
 * | P`events:`pool | channel | `<seq> <event JSON>`, or `- <event JSON>` for relays |
 * | P`processes` | set | process ids that have registered |
 * | P`presence:`process | string, TTL | present while the process is alive |
 * | P`owned:`process | set | `<byte length of id>:<id><pool>` for each member the process serves |
 * | P`epoch` | string | set once; missing again means Redis lost its data |
 *
 * Keys are computed inside the scripts from the prefix, so this needs one
 * Redis (or a primary with replicas), not Redis Cluster. Every script takes
 * 0 keys and the prefix as ARGV[1] ({@link defineScripts} passes it).
 */
import type { Redis } from 'ioredis';

/** How long a forgotten pool's sequence number is kept, so that it never runs backwards for a late listener. */
export const FORGOTTEN_SEQ_TTL_MS = 3_600_000;

const PRELUDE = `
local P = ARGV[1]
local function entry(pool, id) return string.len(id) .. ':' .. id .. pool end
local function owner_of(record) return string.match(record, '^(%S+) ') end
local function publish(pool, seq, payload)
  redis.call('PUBLISH', P .. 'events:' .. pool, seq .. ' ' .. payload)
end
local function close_payload(id) return '{"kind":"close","id":' .. cjson.encode(id) .. '}' end
local function forget_if_empty(pool)
  if redis.call('HLEN', P .. 'members:' .. pool) == 0 and redis.call('SISMEMBER', P .. 'created', pool) == 0 then
    redis.call('SREM', P .. 'pools', pool)
    redis.call('PEXPIRE', P .. 'seq:' .. pool, ${FORGOTTEN_SEQ_TTL_MS})
  end
end
local function remove_member(pool, id)
  local key = P .. 'members:' .. pool
  local record = redis.call('HGET', key, id)
  if not record then return 0 end
  redis.call('HDEL', key, id)
  redis.call('SREM', P .. 'owned:' .. owner_of(record), entry(pool, id))
  local seq = redis.call('INCR', P .. 'seq:' .. pool)
  forget_if_empty(pool)
  publish(pool, seq, close_payload(id))
  return 1
end
local function remove_process(process)
  local owned = P .. 'owned:' .. process
  local entries = redis.call('SMEMBERS', owned)
  for _, e in ipairs(entries) do
    local length, rest = string.match(e, '^(%d+):(.*)$')
    local n = tonumber(length)
    remove_member(string.sub(rest, n + 1), string.sub(rest, 1, n))
  end
  redis.call('DEL', owned, P .. 'presence:' .. process)
  redis.call('SREM', P .. 'processes', process)
  return #entries
end
`;

const body = {
  /** ARGV: P, pool, id, maxPeers, mustExist ('1'|'0'), process -> {'ok', seq, flat members} | {reason} */
  join: `
local pool, id, max, process = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[6]
local key, seqKey = P .. 'members:' .. pool, P .. 'seq:' .. pool
local exists = redis.call('SISMEMBER', P .. 'pools', pool) == 1
if not exists and ARGV[5] == '1' then return {'pool-not-found'} end
if redis.call('HLEN', key) >= max then return {'pool-full'} end
if not exists then
  redis.call('SADD', P .. 'pools', pool)
  redis.call('PERSIST', seqKey)
end
local members = redis.call('HGETALL', key)
local seq = tonumber(redis.call('GET', seqKey) or '0')
redis.call('HSET', key, id, process .. ' null')
redis.call('SADD', P .. 'owned:' .. process, entry(pool, id))
publish(pool, redis.call('INCR', seqKey), '{"kind":"peer","id":' .. cjson.encode(id) .. '}')
return {'ok', seq, members}
`,
  /** ARGV: P, pool, id -> 1 | 0 */
  leave: `return remove_member(ARGV[2], ARGV[3])`,
  /** ARGV: P, pool, id, description JSON -> 1 | 0 */
  describe: `
local pool, id, description = ARGV[2], ARGV[3], ARGV[4]
local key = P .. 'members:' .. pool
local record = redis.call('HGET', key, id)
if not record then return 0 end
redis.call('HSET', key, id, owner_of(record) .. ' ' .. description)
local payload = '{"kind":"describe","id":' .. cjson.encode(id) .. ',"description":' .. description .. '}'
publish(pool, redis.call('INCR', P .. 'seq:' .. pool), payload)
return 1
`,
  /** ARGV: P, pool */
  create: `
local pool = ARGV[2]
redis.call('SADD', P .. 'created', pool)
if redis.call('SADD', P .. 'pools', pool) == 1 then redis.call('PERSIST', P .. 'seq:' .. pool) end
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
end
redis.call('DEL', key)
redis.call('SREM', P .. 'pools', pool)
redis.call('SREM', P .. 'created', pool)
local seq = redis.call('INCR', seqKey)
redis.call('PEXPIRE', seqKey, ${FORGOTTEN_SEQ_TTL_MS})
publish(pool, seq, '{"kind":"stop"}')
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
   * then a count and that many created pools, then a count and that many (pool, id, description JSON)
   * triples, then a count and that many (pool, last seen seq) pairs. Returns the flat (pool, id) pairs
   * that Redis did not hold; with readd they are put back silently (no events), with the created pools
   * and sequence numbers no lower than the ones seen.
   */
  reconcile: `
local process, readd = ARGV[2], ARGV[3] == '1'
local i = 4
local missing = {}
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
  i = i + 3
  local key = P .. 'members:' .. pool
  local record = redis.call('HGET', key, id)
  if not record or owner_of(record) ~= process then
    table.insert(missing, pool)
    table.insert(missing, id)
    if readd and not record then
      redis.call('HSET', key, id, process .. ' ' .. description)
      redis.call('SADD', P .. 'pools', pool)
      redis.call('SADD', P .. 'owned:' .. process, entry(pool, id))
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
return missing
`,
  /** Removes every process whose presence expired, with `close` for each of its members. ARGV: P -> flat (process, members) */
  reap: `
local reaped = {}
for _, process in ipairs(redis.call('SMEMBERS', P .. 'processes')) do
  if redis.call('EXISTS', P .. 'presence:' .. process) == 0 then
    table.insert(reaped, process)
    table.insert(reaped, remove_process(process))
  end
end
return reaped
`,
  /** A process leaving for good: its members leave (with `close`), then it unregisters. ARGV: P, process -> members */
  retire: `return remove_process(ARGV[2])`,
} as const;

export type ScriptName = keyof typeof body;

/** Each script with the shared helpers in front. */
export const SCRIPTS: Record<ScriptName, string> = Object.fromEntries(
  Object.entries(body).map(([name, lua]) => [name, PRELUDE + lua]),
) as Record<ScriptName, string>;

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
  ): Promise<[verdict: 'ok', seq: number, members: string[]] | [verdict: 'pool-full' | 'pool-not-found']>;
  leave(pool: string, id: string): Promise<0 | 1>;
  describe(pool: string, id: string, descriptionJson: string): Promise<0 | 1>;
  create(pool: string): Promise<1>;
  stop(pool: string): Promise<0 | 1>;
  /** `[0]` when there is no such pool, else `[1, flat (id, <process> <description JSON>)]`. */
  members(pool: string): Promise<[exists: 0] | [exists: 1, members: string[]]>;
  /** `known` is 0 when the process was not registered (new, reaped, or Redis lost its data). */
  register(process: string, ttlMs: number, epochCandidate: string): Promise<[epoch: string, known: 0 | 1]>;
  /** Flat (pool, id) pairs of the members Redis did not hold for `process`. */
  reconcile(process: string, readd: boolean, state: ServedState): Promise<string[]>;
  /** Flat (process, members it had) pairs for every process reaped. */
  reap(): Promise<Array<string | number>>;
  /** How many members the process still had. */
  retire(process: string): Promise<number>;
}

/** What a process believes it serves, for `reconcile`. */
export interface ServedState {
  created: ReadonlyArray<string>;
  members: ReadonlyArray<readonly [pool: string, id: string, descriptionJson: string]>;
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
export function defineScripts(redis: Redis, prefix: string): Scripts {
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    redis.defineCommand(`rtcpool_${name}`, { numberOfKeys: 0, lua: SCRIPTS[name] });
  }
  // The methods defineCommand just added; ioredis's own types cannot name them.
  const defined = redis as Redis & Defined;
  const flag = (value: boolean) => (value ? '1' : '0');
  return {
    join: (pool, id, maxPeers, mustExist, process) =>
      defined.rtcpool_join(prefix, pool, id, maxPeers, flag(mustExist), process) as ReturnType<Scripts['join']>,
    leave: (pool, id) => defined.rtcpool_leave(prefix, pool, id) as ReturnType<Scripts['leave']>,
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
