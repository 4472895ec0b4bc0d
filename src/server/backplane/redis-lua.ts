/**
 * What every Lua script of {@link RedisBackplane} starts with (redis-scripts.ts
 * has the scripts): the keys, and the helpers that change them. Every change
 * to a pool runs as one script that changes the state, bumps the pool's
 * sequence number and appends the event to the pool's log, so the order of
 * states and the order of events are the same order (Redis runs one script at
 * a time).
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
 * | P`log:`pool | stream | the pool's events, field `e`: `<seq> <event JSON>`, or `- <event JSON>` for relays and `moved` (entries older than the retention trimmed; the whole log expires with the retention once the pool is forgotten) |
 * | P`events:`pool | channel | `<log entry id> ` then the entry's `e`: the same events, live |
 * | P`session:`id | hash | a member's session: `pool`, `token` (SHA-256, hex; empty: not resumable), `seq` (join snapshot), `owner` (process, `-` while detached), `gen`, `win` (resume window, ms), and its checkpoint `sent`, `at`, `recv`, `peers` (space-separated) |
 * | P`detached` | sorted set | session ids whose process died, by the time their window ends |
 * | P`processes` | set | process ids that have registered |
 * | P`presence:`process | string, TTL | present while the process is alive |
 * | P`owned:`process | set | `<byte length of id>:<id><pool>` for each member the process serves |
 * | P`epoch` | string | set once; missing again means Redis lost its data |
 *
 * Keys are computed inside the scripts from the prefix, so this needs one
 * Redis (or a primary with replicas), not Redis Cluster. Every script takes
 * 0 keys and the prefix as ARGV[1] ({@link defineScripts} passes it).
 */
/** How long a forgotten pool's sequence number is kept, so that it never runs backwards for a late listener. */
export const FORGOTTEN_SEQ_TTL_MS = 3_600_000;

/**
 * What every script starts with, the relay (the hot path) with nothing more: Redis runs a script's helper
 * definitions on every call. `append` is the one way an event is published: added to the pool's log (trimmed to
 * `retentionMs`, approximately: Redis drops whole nodes of about 100 entries) and sent live on its channel with
 * the entry's id in front.
 */
export function core(retentionMs: number): string {
  return `
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function append(pool, head, payload)
  local body = head .. ' ' .. payload
  local at = redis.call('XADD', P .. 'log:' .. pool, 'MINID', '~', string.format('%d', now_ms() - ${retentionMs}), '*', 'e', body)
  redis.call('PUBLISH', P .. 'events:' .. pool, at .. ' ' .. body)
  return at
end
`;
}

/** Every script but the relay starts with these: {@link core}, then what pools and members need. */
export function prelude(retentionMs: number): string {
  return `${core(retentionMs)}
local function entry(pool, id) return string.len(id) .. ':' .. id .. pool end
local function owner_of(record) return string.match(record, '^(%S+) ') end
local function keep(pool)
  redis.call('PERSIST', P .. 'seq:' .. pool)
  redis.call('PERSIST', P .. 'log:' .. pool)
end
-- A forgotten pool: its sequence number is kept an hour (never to run backwards), its log as long as its events.
local function expire(pool)
  redis.call('PEXPIRE', P .. 'seq:' .. pool, ${FORGOTTEN_SEQ_TTL_MS})
  redis.call('PEXPIRE', P .. 'log:' .. pool, ${retentionMs})
end
local function close_payload(id) return '{"kind":"close","id":' .. cjson.encode(id) .. '}' end
local function forget_if_empty(pool)
  if redis.call('HLEN', P .. 'members:' .. pool) == 0 and redis.call('SISMEMBER', P .. 'created', pool) == 0 then
    redis.call('SREM', P .. 'pools', pool)
    expire(pool)
  end
end
local function remove_member(pool, id)
  local key = P .. 'members:' .. pool
  local record = redis.call('HGET', key, id)
  redis.call('DEL', P .. 'session:' .. id)
  redis.call('ZREM', P .. 'detached', id)
  if not record then return 0 end
  redis.call('HDEL', key, id)
  redis.call('SREM', P .. 'owned:' .. owner_of(record), entry(pool, id))
  local seq = redis.call('INCR', P .. 'seq:' .. pool)
  forget_if_empty(pool)
  append(pool, seq, close_payload(id))
  return 1
end
-- A member whose process is gone: kept for its resume window when its session can be resumed, else removed.
local function orphan(pool, id, now)
  local session = P .. 'session:' .. id
  local token, window = unpack(redis.call('HMGET', session, 'token', 'win'))
  if not token or token == '' or tonumber(window) <= 0 then return remove_member(pool, id) end
  local key = P .. 'members:' .. pool
  local record = redis.call('HGET', key, id)
  if not record then return remove_member(pool, id) end
  redis.call('HSET', key, id, '-' .. string.sub(record, string.len(owner_of(record)) + 1))
  redis.call('HSET', session, 'owner', '-')
  redis.call('ZADD', P .. 'detached', now + tonumber(window), id)
  return 1
end
-- A process that is gone (died: its members are orphaned) or leaving (they leave).
local function remove_process(process, died)
  local owned = P .. 'owned:' .. process
  local entries = redis.call('SMEMBERS', owned)
  local now = now_ms()
  for _, e in ipairs(entries) do
    local length, rest = string.match(e, '^(%d+):(.*)$')
    local n = tonumber(length)
    local pool, id = string.sub(rest, n + 1), string.sub(rest, 1, n)
    if died then orphan(pool, id, now) else remove_member(pool, id) end
  end
  redis.call('DEL', owned, P .. 'presence:' .. process)
  redis.call('SREM', P .. 'processes', process)
  return #entries
end
`;
}
