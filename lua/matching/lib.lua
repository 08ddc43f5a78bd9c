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
--   T:ticket:<uid>        hash  g a pg cls lng lat since cost card parked: a waiting user's
--                               entry; after a pair that owes gems, both tickets stay
--                               parked ('1') a while, so that unpair.lua can put them back
--   T:cls:<g>:<pg>        zset  occupied classes, scored by age
--   T:heads:<g>:<pg>      zset  the same classes, scored by their oldest waiter's enqueue
--                               time (which class to look at first)
--   T:cursor              hash  where the next search of a crowded bucket starts, per
--                               bucket and age range (pair.lua)
--   T:q:<g>:<pg>:<cls>    zset  waiting uids of a class, scored by enqueue time (ms)
--   T:geo:<g>:<pg>:<cls>  geo   the same uids, for those with a location
--   T:seen                zset  waiting uids by last sign of life (ms)
--   T:m:<id>              hash  a b status deadline da db card_a card_b [unpaid] [call]
--                               (kept a minute after it ends; ten if matched, for the call);
--                               `unpaid` until the server charged its gems (confirm.lua)
--   T:um:<uid>            str   id of the user's undecided match
--   T:deadlines           zset  undecided match ids by deadline (ms)
--   T:recent              zset  "<lower uid>:<higher uid>" of recent pairs by pairing time
--                               (ms), for the rematch cooldown (trimmed by reap.lua)
--   T:refunds             zset  ids of matches that ended unpaid, by end time (ms): any gems
--                               charged for them meanwhile are given back (matching::service)
--
-- Redis time is mostly the number of redis.call()s, so each path makes as few as
-- it can: nothing is read twice, and what a free pair no longer needs is deleted
-- rather than kept.
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

-- The member of T:recent for a pair, the same whichever way round.
local function pair_key(a, b)
  if tonumber(a) < tonumber(b) then
    return a .. ':' .. b
  end
  return b .. ':' .. a
end

-- Takes a waiting user of class (g, pg, cls) out of the indexes; `lng` is '' when
-- they gave no location (then they are in no geo set), nil when unknown.
local function unindex_from(uid, g, pg, cls, lng)
  local q = k('q', g, pg, cls)
  redis.call('ZREM', k('seen'), uid)
  redis.call('ZREM', q, uid)
  if lng ~= '' then
    redis.call('ZREM', k('geo', g, pg, cls), uid)
  end
  local head = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
  if #head == 0 then
    redis.call('ZREM', k('cls', g, pg), cls)
    redis.call('ZREM', k('heads', g, pg), cls)
  else
    redis.call('ZADD', k('heads', g, pg), 'XX', head[2], cls)
  end
end

-- Takes a user out of the indexes; their ticket hash stays. True if they were waiting.
local function unindex(uid)
  local t = redis.call('HMGET', k('ticket', uid), 'g', 'pg', 'cls', 'lng', 'parked')
  if not t[1] or t[5] == '1' then
    redis.call('ZREM', k('seen'), uid)
    return false
  end
  unindex_from(uid, t[1], t[2], t[3], t[4])
  return true
end

-- Puts a user whose ticket fields are given into the indexes.
local function index(uid, g, pg, cls, age, since, lng, lat, now)
  redis.call('ZADD', k('cls', g, pg), age, cls)
  redis.call('ZADD', k('heads', g, pg), 'LT', since, cls)
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

-- A script's reply, the events left to deliver first. Every matching script
-- returns through it.
local function reply(t)
  if CHANNEL ~= '' then
    flush(CHANNEL)
  end
  table.insert(t, 1, #OUTBOX > 0 and cjson.encode(OUTBOX) or '')
  return t
end

-- Ends an undecided match as 'matched' or 'next' and tells both users. A match that
-- ends before its gems were confirmed was never announced: nobody is told, and it is
-- noted for a refund of whatever was charged for it meanwhile. `m` is {a, b, unpaid}
-- when the caller read them and saw the match undecided; else a match that ended
-- already is left as it is.
local function finish(mid, status, m)
  redis.call('ZREM', k('deadlines'), mid)
  local key = k('m', mid)
  if not m then
    m = redis.call('HMGET', key, 'a', 'b', 'unpaid', 'status')
    if m[4] ~= 'pending' then
      return
    end
  end
  redis.call('HSET', key, 'status', status)
  redis.call('PEXPIRE', key, status == 'matched' and KEEP_MATCHED_MS or KEEP_ENDED_MS)
  -- while a match is undecided, both users' pointers lead to it and to nothing else
  redis.call('DEL', k('um', m[1]), k('um', m[2]))
  if m[3] then
    redis.call('HDEL', key, 'unpaid')
    local t = redis.call('TIME')
    redis.call('ZADD', k('refunds'), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), mid)
    return
  end
  publish({m[1], m[2]}, '{"type":"match_decided","match_id":' .. mid .. ',"status":"' .. status .. '"}')
end
