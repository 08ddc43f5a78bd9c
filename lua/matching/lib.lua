-- Shared prelude of the matching scripts. The matching scripts are the functions of
-- one Redis Functions library (`src/redis/scripts.rs` builds it: realtime/event.lua,
-- this file, search.lua, then each script as the body of a function(KEYS, ARGV) that
-- calls begin() first), so this prelude is run once when the library is loaded, not on
-- every call.
-- Every matching script takes ARGV[1] = T, the shard's key
-- prefix with its hash tag ({pool:<shard>}), and ARGV[2] = the events channel ('' on a
-- Cluster). KEYS[1] is T .. ':seen', which routes the script to the shard's slot; every
-- key below is built from T, so all of them live in that one slot.
--
-- Every reply starts with the events the caller must deliver itself (JSON
-- [[uid, event, answered ('1' or '')], ...], or ''): on a Cluster, users' streams and
-- channels live in their own slots, out of this script's reach; with a single Redis the
-- script delivers them.
--
-- Layout (s: a scope, g: gender, pg: preferred gender, b = "<s>/<g>" a bucket's gender,
-- cls: "<age>:<min age>:<max age>:<radius km>", plus ":<cell lat>:<cell lng>" (1°x1°) for
-- waiters with a radius). A scope is the age band ('a' 18 and over, 'u' under 18) and a
-- language part: ':<code>' for each language the user speaks and '+' (speaks some), or
-- '*' (said none). A waiter is filed under each of their scopes (`sc`, comma-separated):
--   T:ticket:<uid>        hash  g a pg cls lng lat since cost card sc int rx ba parked: a
--                               waiting user's entry (int: interests as JSON; rx: how
--                               the filters relax, ba: the saved "<min>:<max>:<radius>");
--                               after a pair that owes gems, both tickets stay parked
--                               ('1') a while, so that unpair.lua can put them back
--   T:cls:<b>:<pg>        zset  occupied classes, scored by age
--   T:heads:<b>:<pg>      zset  the same classes, scored by their oldest waiter's enqueue
--                               time (which class to look at first)
--   T:cursor              hash  where the next search of a crowded bucket starts, per
--                               bucket and age range (pair.lua)
--   T:q:<b>:<pg>:<cls>    zset  waiting uids of a class, scored by enqueue time (ms)
--   T:geo:<b>:<pg>:<cls>  geo   the same uids, for those with a location
--   T:seen                zset  waiting uids by last sign of life (ms)
--   T:buckets             hash  "<b>:<pg>" -> occupied classes of the bucket: a search opens
--                               only buckets with some (one HMGET instead of a read each)
--   T:relax               zset  waiters whose filters relax, by when they widen next (ms)
--   T:waits               zset  "<match id>:<wait ms>" of recent pairs by pairing time, the
--                               last 1000 of 10 minutes (trimmed by reap.lua)
--   T:stats               hash  eta: the median of T:waits (ms), kept by reap.lua
--   T:m:<id>              hash  a b status deadline da db card_a card_b [unpaid] [call]
--                               (kept a minute after it ends; one rejected before its deadline
--                               keeps the expiry it got when paired, a minute past the deadline;
--                               ten if matched, for the call);
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
-- rather than kept. Arguments of redis.call() are given as text where they can be
-- ('0', not 0): Redis writes a Lua number out with %.17g, about 2,000 instructions
-- each (a callgrind count, BENCHMARKS.md).
-- The call's shard prefix, events channel, key prefix of users' streams, and events
-- left for the caller to deliver (a table only once there is one): set by begin() at
-- the start of every call.
local T, CHANNEL, PREFIX, OUTBOX

local function begin(argv)
  -- (the prefix is cut again only for another shard: strings compare by reference)
  if argv[1] ~= T then
    T = argv[1]
    PREFIX = string.sub(T, 1, string.find(T, '{pool:', 1, true) - 1)
  end
  CHANNEL = argv[2]
  OUTBOX = nil
  N_UNSENT = 0
end

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
-- (as text for redis.call; the second also as a number, not converted on every call)
local KEEP_MATCHED_MS = '600000'
local KEEP_ENDED_MS, KEEP_ENDED = '60000', 60000

-- The member of T:recent for a pair, the same whichever way round.
local function pair_key(a, b)
  if tonumber(a) < tonumber(b) then
    return a .. ':' .. b
  end
  return b .. ':' .. a
end

-- Takes a waiting user of class (pg, cls) out of one bucket (b: "<scope>/<gender>");
-- `lng` is '' when they gave no location (then they are in no geo set), nil when unknown.
local function unfile(uid, b, pg, cls, lng)
  local q = k('q', b, pg, cls)
  redis.call('ZREM', q, uid)
  if lng ~= '' then
    redis.call('ZREM', k('geo', b, pg, cls), uid)
  end
  local head = redis.call('ZRANGE', q, '0', '0', 'WITHSCORES')
  if #head == 0 then
    if redis.call('ZREM', k('cls', b, pg), cls) == 1 then
      redis.call('HINCRBY', k('buckets'), b .. ':' .. pg, '-1')
    end
    redis.call('ZREM', k('heads', b, pg), cls)
  else
    redis.call('ZADD', k('heads', b, pg), 'XX', head[2], cls)
  end
end

-- Takes a waiting user of scopes `sc`, gender g and class (pg, cls) out of the indexes
-- (`sc` nil: a ticket filed before scopes existed, in bucket g itself).
local function unindex_from(uid, sc, g, pg, cls, lng)
  redis.call('ZREM', k('seen'), uid)
  if not sc then
    unfile(uid, g, pg, cls, lng)
    return
  end
  for s in string.gmatch(sc, '[^,]+') do
    unfile(uid, s .. '/' .. g, pg, cls, lng)
  end
end

-- Takes a user out of the indexes; their ticket hash stays. True if they were waiting.
local function unindex(uid)
  local t = redis.call('HMGET', k('ticket', uid), 'g', 'pg', 'cls', 'lng', 'parked', 'sc')
  if not t[1] or t[5] == '1' then
    redis.call('ZREM', k('seen'), uid)
    return false
  end
  unindex_from(uid, t[6], t[1], t[2], t[3], t[4])
  return true
end

-- Puts a user whose ticket fields are given into the indexes, last seen at `seen` (ms).
local function index(uid, sc, g, pg, cls, age, since, lng, lat, seen)
  for s in string.gmatch(sc, '[^,]+') do
    local b = s .. '/' .. g
    if redis.call('ZADD', k('cls', b, pg), age, cls) == 1 then
      redis.call('HINCRBY', k('buckets'), b .. ':' .. pg, '1')
    end
    redis.call('ZADD', k('heads', b, pg), 'LT', since, cls)
    redis.call('ZADD', k('q', b, pg, cls), since, uid)
    if lng ~= '' then
      redis.call('GEOADD', k('geo', b, pg, cls), lng, lat, uid)
    end
  end
  redis.call('ZADD', k('seen'), seen, uid)
end

-- Saves pair.lua's caller's ticket (argv: its ARGV; the card as the caller sent it, never
-- as a pair showed it), of class `cls`, in line since `since`; `parked` '1' while a pair
-- that owes gems holds it. (Here, not in pair.lua: a local function there would be a
-- closure made on every call.)
local function save_ticket(ticket, argv, cls, since, parked)
  redis.call('HSET', ticket, 'g', argv[4], 'a', argv[5], 'pg', argv[6], 'cls', cls,
    'lng', argv[10], 'lat', argv[11], 'since', since, 'cost', argv[12], 'card', argv[13],
    'sc', argv[20], 'int', argv[22], 'rx', argv[23],
    'ba', argv[7] .. ':' .. argv[8] .. ':' .. argv[9], 'parked', parked)
end

-- A waiter's class: their age, age range and radius, and the 1°x1° cell they are in
-- when they have a radius (so that far callers can skip the class unsearched).
local function class_of(age, amin, amax, radius, lng, lat)
  local c = string.format('%d:%d:%d:%d', age, amin, amax, radius)
  if radius > 0 and lng ~= '' then
    c = c .. string.format(':%d:%d', math.floor(tonumber(lat)), math.floor(tonumber(lng)))
  end
  return c
end

-- Filters after waiting since `since` under relax rule `spec` = "<after ms>:<every
-- ms>:<step years>:<lowest age>": widened once `after` ms in and again every `every`
-- ms, the age range by `step` each side (within lowest age..100), a radius doubled
-- (past 20000 km: none). Returns min age, max age, radius and when they widen next
-- (nil: fully widened).
local function relaxed(amin, amax, radius, spec, since, now)
  local _, _, after, every, step, lowest = string.find(spec, '^(%d+):(%d+):(%d+):(%d+)$')
  after, every, step, lowest = tonumber(after), tonumber(every), tonumber(step), tonumber(lowest)
  local n = 0
  if now - since >= after then
    n = math.floor((now - since - after) / every) + 1
  end
  amin = math.max(lowest, amin - n * step)
  amax = math.min(100, amax + n * step)
  if radius > 0 then
    radius = radius * 2 ^ n
    if radius > 20000 then
      radius = 0
    end
  end
  local next_at
  if (step > 0 and (amin > lowest or amax < 100)) or radius > 0 then
    next_at = since + after + n * every
  end
  return amin, amax, math.floor(radius), next_at
end

-- Tells user `uid` of `event`; `answered` when their own request is answered with it
-- (a long poll of theirs that it reaches late does not take it: event.lua).
local function tell(uid, event, answered)
  if CHANNEL == '' then
    OUTBOX = OUTBOX or {}
    OUTBOX[#OUTBOX + 1] = {uid, event, answered and '1' or ''}
    return
  end
  deliver(PREFIX, CHANNEL, uid, event, answered)
end

-- Tells user `a` (and `b`, if given) of `event`.
local function publish(event, a, b)
  tell(a, event, false)
  if b then
    tell(b, event, false)
  end
end

-- Tells the caller of `event`, which their own request is answered with (their
-- match_found).
local function publish_answered(event, uid)
  tell(uid, event, true)
end

-- A script's reply, the events left to deliver first. Every matching script
-- returns through it.
local function reply(t)
  if CHANNEL ~= '' then
    flush(CHANNEL)
  end
  table.insert(t, 1, OUTBOX and cjson.encode(OUTBOX) or '')
  return t
end

-- Ends an undecided match as 'matched' or 'next' and tells both users. A match that
-- ends before its gems were confirmed was never announced: nobody is told, and it is
-- noted for a refund of whatever was charged for it meanwhile. `m` is {a, b, unpaid}
-- when the caller read them and saw the match undecided; else a match that ended
-- already is left as it is. `early`: it ends as 'next' before its deadline, so the
-- expiry pair.lua gave it (a minute past the deadline) keeps it a minute already
-- (give or take the skew between the clocks of the nodes that paired and decided).
local function finish(mid, status, m, early)
  redis.call('ZREM', k('deadlines'), mid)
  local key = k('m', mid)
  if not m then
    m = redis.call('HMGET', key, 'a', 'b', 'unpaid', 'status')
    if m[4] ~= 'pending' then
      return
    end
  end
  redis.call('HSET', key, 'status', status)
  if status == 'matched' then
    redis.call('PEXPIRE', key, KEEP_MATCHED_MS)
  elseif not early then
    redis.call('PEXPIRE', key, KEEP_ENDED_MS)
  end
  -- while a match is undecided, both users' pointers lead to it and to nothing else
  redis.call('DEL', k('um', m[1]), k('um', m[2]))
  if m[3] then
    redis.call('HDEL', key, 'unpaid')
    local t = redis.call('TIME')
    redis.call('ZADD', k('refunds'), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), mid)
    return
  end
  publish('{"type":"match_decided","match_id":' .. mid .. ',"status":"' .. status .. '"}', m[1], m[2])
end
