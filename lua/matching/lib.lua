-- Shared prelude of the matching scripts (prepended to each, after realtime/event.lua,
-- when the binary is built). Every matching script takes ARGV[1] = T, the shard's key
-- prefix with its hash tag ({pool:<shard>}), and ARGV[2] = the events channel ('' on a
-- Cluster). KEYS[1] is T .. ':seen', which routes the script to the shard's slot; every
-- key below is built from T, so all of them live in that one slot.
--
-- Every reply starts with the events the caller must deliver itself (JSON
-- [[uid, event], ...], or ''): on a Cluster, users' streams and channels live in their
-- own slots, out of this script's reach; with a single Redis the script delivers them.
--
-- Layout (g: gender, pg: preferred gender, cls: "<age>:<min age>:<max age>:<radius km>",
-- plus ":<cell lat>:<cell lng>" (1°x1°) for waiters with a radius):
--   T:ticket:<uid>        hash  g a pg cls lng lat since cost card [parked]
--   T:cls:<g>:<pg>        zset  occupied classes, scored by age
--   T:q:<g>:<pg>:<cls>    zset  waiting uids of a class, scored by enqueue time (ms)
--   T:geo:<g>:<pg>:<cls>  geo   the same uids, for those with a location
--   T:seen                zset  waiting uids by last sign of life (ms)
--   T:m:<id>              hash  a b status deadline da db card_a card_b created [unpaid]
--                               (kept a minute after it ends; ten if matched, for the call);
--                               `unpaid` until the server charged its gems (confirm.lua)
--   T:um:<uid>            str   id of the user's undecided match
--   T:deadlines           zset  undecided match ids by deadline (ms)
--   T:recent:<uid>        zset  recent partners by pairing time (ms), for the cooldown
--   T:refunds             zset  ids of matches that ended unpaid, by end time (ms): any gems
--                               charged for them meanwhile are given back (matching::service)
local T = ARGV[1]
local CHANNEL = ARGV[2]

-- one concatenation per key (no table, no intermediate strings)
local function k(a, b, c, d)
  if d then
    return T .. ':' .. a .. ':' .. b .. ':' .. c .. ':' .. d
  elseif c then
    return T .. ':' .. a .. ':' .. b .. ':' .. c
  elseif b then
    return T .. ':' .. a .. ':' .. b
  end
  return T .. ':' .. a
end

-- How long a match is kept once it ended: a matched one until its call starts.
local KEEP_MATCHED_MS = 600000
local KEEP_ENDED_MS = 60000

-- Takes a user out of the indexes; their ticket hash stays. True if they were waiting.
local function unindex(uid)
  redis.call('ZREM', k('seen'), uid)
  local t = redis.call('HMGET', k('ticket', uid), 'g', 'pg', 'cls', 'parked')
  if not t[1] or t[4] == '1' then
    return false
  end
  local q = k('q', t[1], t[2], t[3])
  redis.call('ZREM', q, uid)
  redis.call('ZREM', k('geo', t[1], t[2], t[3]), uid)
  if redis.call('ZCARD', q) == 0 then
    redis.call('ZREM', k('cls', t[1], t[2]), t[3])
  end
  return true
end

-- Puts a user whose ticket fields are given into the indexes.
local function index(uid, g, pg, cls, age, since, lng, lat, now)
  redis.call('ZADD', k('cls', g, pg), age, cls)
  redis.call('ZADD', k('q', g, pg, cls), since, uid)
  if lng ~= '' then
    redis.call('GEOADD', k('geo', g, pg, cls), lng, lat, uid)
  end
  redis.call('ZADD', k('seen'), now, uid)
end

local PREFIX = string.sub(T, 1, string.find(T, '{pool:', 1, true) - 1)
local OUTBOX = {}

local function publish(to, event)
  for _, uid in ipairs(to) do
    if CHANNEL == '' then
      OUTBOX[#OUTBOX + 1] = {uid, event}
    else
      deliver(PREFIX, CHANNEL, uid, event, true)
    end
  end
end

-- A script's reply, the events left to deliver first.
local function reply(t)
  table.insert(t, 1, #OUTBOX > 0 and cjson.encode(OUTBOX) or '')
  return t
end

-- Ends an undecided match as 'matched' or 'next' and tells both users. A match that
-- ends before its gems were confirmed was never announced: nobody is told, and it is
-- noted for a refund of whatever was charged for it meanwhile.
local function finish(mid, status)
  redis.call('ZREM', k('deadlines'), mid)
  local key = k('m', mid)
  local m = redis.call('HMGET', key, 'a', 'b', 'unpaid')
  if not m[1] then
    return
  end
  redis.call('HSET', key, 'status', status)
  redis.call('PEXPIRE', key, status == 'matched' and KEEP_MATCHED_MS or KEEP_ENDED_MS)
  for _, u in ipairs({m[1], m[2]}) do
    if redis.call('GET', k('um', u)) == mid then
      redis.call('DEL', k('um', u))
    end
  end
  if m[3] then
    redis.call('HDEL', key, 'unpaid')
    local t = redis.call('TIME')
    redis.call('ZADD', k('refunds'), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), mid)
    return
  end
  publish({m[1], m[2]}, '{"type":"match_decided","match_id":' .. mid .. ',"status":"' .. status .. '"}')
end
