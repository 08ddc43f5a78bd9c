-- The search of pair.lua: which waiter a caller is paired with. A prelude of the
-- matching library after lib.lua, so its functions are made once when the library
-- loads, not on every call; pair.lua gives each search its caller with
-- search_setup(). A call allocates as few tables as it can (the closures and tables
-- every call made, and their garbage, were ~14% of a pair's Redis instructions:
-- BENCHMARKS.md), so the lists below are kept from call to call and filled up to a
-- count.

-- The caller: uid, gender g, preferred gender pg, age, the age range (as numbers and as
-- text, for the class index's range reads), radius km (0: none), location ('' when
-- unknown), the scopes searched, the time now (ms), waiters last seen before
-- `stale_before` are ghosts, and pairs made since `recent_since` (nil: no cooldown)
-- are not made again. `excluded`: users never offered (blocks, and recent partners
-- found on the way), nil while there are none.
local uid, g, pg, age, amin, amax, amin_arg, amax_arg, radius, lng, lat
local searched, now, stale_before, recent_since, excluded
-- The best waiter so far: uid, enqueue time (ms), and where they wait (bucket, their
-- preferred gender, class).
local best, best_since, best_b, best_pg, best_c

-- Every loop is bounded, whatever waits in the pool. A search looks at most at
-- MAX_CLASSES classes of a bucket in the caller's age range, and reads at most
-- MAX_PROBES of their queues and geo sets (the oldest heads first). When more classes
-- are in range (a crowd, which only many distinct settings make), it looks at the
-- NEWEST classes joined last (so that a newcomer is found at once) and at a WINDOW of
-- the others that moves on with every search by the same bucket and range (so that
-- every class gets its turn), with CROWD_PROBES probes each: the longest-waiting
-- compatible user may then be missed by one search, the price of the bound. In a
-- queue it steps past at most max_skips users who may not be offered (blocks, recent
-- partners, ghosts), and a radius class offers at most MAX_NEAR of its waiters nearest
-- the caller (the oldest of those wins).
local MAX_CLASSES, MAX_PROBES = 48, 16
-- (as text; the library's load runs without Lua's string library)
local CLASSES_READ = (MAX_CLASSES + 1) .. ''
local NEWEST, WINDOW, CROWD_PROBES = 8, 24, 4
local MAX_NEAR = 256
local max_skips

-- The classes of one bucket that fit (FIT_CLASS[i], FIT_LIMIT[i]: the distance limit km,
-- FIT_HEAD[i]: the oldest waiter's enqueue time) in the order ORDER[1..n]: kept across
-- calls, filled up to a count.
local FIT_CLASS, FIT_LIMIT, FIT_HEAD, ORDER = {}, {}, {}, {}

-- Sets the caller of the next search (argv: pair.lua's ARGV, for the blocks from
-- ARGV[25] on).
local function search_setup(argv, uid_, g_, pg_, age_, amin_, amax_, amin_arg_, amax_arg_,
    radius_, lng_, lat_, searched_, now_, ghost_ms, recent_since_)
  uid, g, pg, age, amin, amax, amin_arg, amax_arg = uid_, g_, pg_, age_, amin_, amax_, amin_arg_, amax_arg_
  radius, lng, lat, searched, now = radius_, lng_, lat_, searched_, now_
  stale_before = now - tonumber(ghost_ms)
  recent_since = recent_since_
  excluded = nil
  max_skips = 64 + 1
  if #argv >= 25 then
    excluded = {}
    for i = 25, #argv do
      excluded[argv[i]] = true
    end
    max_skips = max_skips + #argv - 24
  end
end

-- The buckets a search opens: {buckets, their preferred genders, their names in
-- T:buckets, n}, made once for each scopes searched, preferred gender and gender and
-- kept in OPENS[searched][pg][g] (at most MAX_OPENS, then all forgotten at once): the
-- split and the dozen concatenations of every search were ~3.5% of a pair's Redis
-- instructions (BENCHMARKS.md). A shard whose users search more combinations (languages,
-- in the order they gave them) than that makes them again, a few tables a miss.
local OPENS, N_OPENS, MAX_OPENS = {}, 0, 512

local function opens()
  if N_OPENS >= MAX_OPENS then
    OPENS, N_OPENS = {}, 0
  end
  local by_pg = OPENS[searched]
  if not by_pg then
    by_pg = {}
    OPENS[searched] = by_pg
  end
  local by_g = by_pg[pg]
  if not by_g then
    by_g = {}
    by_pg[pg] = by_g
  end
  local o = by_g[g]
  if o then
    return o
  end
  local buckets, pgs, names, n = {}, {}, {}, 0
  for s in string.gmatch(searched, '[^,]+') do
    for i = 1, (pg == 'all') and 2 or 1 do
      local b = s .. '/' .. ((pg ~= 'all' and pg) or (i == 1 and 'male') or 'female')
      buckets[n + 1], pgs[n + 1], names[n + 1] = b, g, b .. ':' .. g
      buckets[n + 2], pgs[n + 2], names[n + 2] = b, 'all', b .. ':all'
      n = n + 2
    end
  end
  o = {buckets, pgs, names, n}
  by_g[g] = o
  N_OPENS = N_OPENS + 1
  return o
end

-- Degrees between two longitudes, the short way round (across ±180° too).
local function lng_gap(a, b)
  local d = math.abs(a - b) % 360
  return math.min(d, 360 - d)
end

-- A lower bound (km) of the distance from the caller to any point of a 1°x1° cell:
-- haversine with the nearest latitude and longitude of the cell, and cos² of the larger
-- latitude in place of cos φ1 · cos φ2 (Redis's earth radius).
local function cell_distance(clat, clng)
  local la, lo = tonumber(lat), tonumber(lng)
  local nla = math.min(math.max(la, clat), clat + 1)
  local dlng = 0
  if lo < clng or lo > clng + 1 then
    -- each edge the short way round: the nearer edge may be the one across ±180°
    dlng = math.min(lng_gap(lo, clng), lng_gap(lo, clng + 1))
  end
  local dphi = math.rad(math.abs(la - nla))
  local c = math.cos(math.rad(math.max(math.abs(la), math.abs(nla))))
  local h = math.sin(dphi / 2) ^ 2 + c * c * math.sin(math.rad(dlng) / 2) ^ 2
  return 2 * 6372.797560856 * math.asin(math.min(1, math.sqrt(h)))
end

-- Takes a waiter found in bucket (b, wpg, c) out of the pool (a ghost, or an entry
-- whose ticket is gone, e.g. evicted under maxmemory: then only that bucket is known).
local function drop(w, b, wpg, c)
  local key = k('ticket', w)
  local t = redis.call('HMGET', key, 'sc', 'g', 'lng')
  if t[1] then
    unindex_from(w, t[1], t[2], wpg, c, t[3])
  else
    redis.call('ZREM', k('seen'), w)
    unfile(w, b, wpg, c, nil)
  end
  redis.call('DEL', key)
end

-- Whether a waiter of class (wg, wpg, c), in line since `since_w` (ms), may be offered:
-- 'yes', 'no', or 'gone' (a ghost, out of the pool on sight). One who joined the line
-- within the ghost timeout is no ghost: that request was a sign of life (T:seen unread).
local function usable(w, since_w, wg, wpg, c)
  if w == uid or (excluded and excluded[w]) then
    return 'no'
  end
  if recent_since and tonumber(redis.call('ZSCORE', k('recent'), pair_key(uid, w)) or '0') >= recent_since then
    excluded = excluded or {}
    excluded[w] = true
    return 'no'
  end
  if since_w < stale_before and tonumber(redis.call('ZSCORE', k('seen'), w) or '0') < stale_before then
    drop(w, wg, wpg, c)
    return 'gone'
  end
  return 'yes'
end

-- The classes of bucket (wg, wpg) to look at, with how many may be probed: those with
-- an age in the caller's range, or in a crowd the newest and a window (two lists).
local function to_look_at(wg, wpg)
  local key = k('cls', wg, wpg)
  local list = redis.call('ZRANGEBYSCORE', key, amin_arg, amax_arg, 'LIMIT', '0', CLASSES_READ)
  if #list <= MAX_CLASSES then
    return list, MAX_PROBES
  end
  local newest = redis.call('ZRANGE', k('heads', wg, wpg), -NEWEST, -1)
  local cursor = wg .. ':' .. wpg .. ':' .. amin .. ':' .. amax
  -- by rank (an offset into a score range would be walked one by one)
  local first = redis.call('ZCOUNT', key, '-inf', '(' .. amin_arg)
  local total = redis.call('ZCOUNT', key, amin_arg, amax_arg)
  local start = redis.call('HINCRBY', k('cursor'), cursor, WINDOW) % total
  local window = redis.call('ZRANGE', key, first + start, first + math.min(start + WINDOW, total) - 1)
  if #window < WINDOW then
    for _, c in ipairs(redis.call('ZRANGE', key, first, first + WINDOW - #window - 1)) do
      window[#window + 1] = c
    end
  end
  return newest, CROWD_PROBES, window, CROWD_PROBES
end

local function by_head(i, j)
  return FIT_HEAD[i] < FIT_HEAD[j]
end

-- Of `classes` of bucket (wg, wpg), those that fit the caller both ways on age and may
-- be within reach, in FIT_* and ORDER (the oldest first). Returns how many.
local function candidates(wg, wpg, classes)
  local n = 0
  for _, c in ipairs(classes) do
    local _, _, cage, wmin, wmax, wr, clat, clng = string.find(c, '^(%d+):(%d+):(%d+):(%d+):?(-?%d*):?(-?%d*)$')
    cage, wmin, wmax, wr = tonumber(cage), tonumber(wmin), tonumber(wmax), tonumber(wr)
    local limit = radius
    if wr > 0 and (limit == 0 or wr < limit) then
      limit = wr
    end
    if amin <= cage and cage <= amax and wmin <= age and age <= wmax
      and (clat == '' or lng == '' or cell_distance(tonumber(clat), tonumber(clng)) <= limit) then
      n = n + 1
      FIT_CLASS[n], FIT_LIMIT[n], FIT_HEAD[n], ORDER[n] = c, limit, 0, n
    end
  end
  for i = n + 1, #ORDER do
    ORDER[i] = nil
  end
  if n > 1 then
    local heads = redis.call('ZMSCORE', k('heads', wg, wpg), unpack(FIT_CLASS, 1, n))
    for i = 1, n do
      FIT_HEAD[i] = tonumber(heads[i]) or 0
    end
    table.sort(ORDER, by_head)
  end
  return n
end

-- The oldest usable waiter of one class older than the best so far (which it updates).
local function probe(wg, wpg, c, limit)
  local q = k('q', wg, wpg, c)
  if limit == 0 then
    -- the rank read next, kept as text too (see lib.lua)
    local i, at = 0, '0'
    for _ = 1, max_skips do
      local head = redis.call('ZRANGE', q, at, at, 'WITHSCORES')
      local since_w = head[2] and tonumber(head[2])
      if not since_w or since_w >= best_since then
        return
      end
      local verdict = usable(head[1], since_w, wg, wpg, c)
      if verdict == 'yes' then
        best, best_since, best_b, best_pg, best_c = head[1], since_w, wg, wpg, c
        return
      end
      if verdict == 'no' then
        i = i + 1 -- a removed ghost shifts the rest down instead
        at = string.format('%d', i)
      end
    end
  elseif lng ~= '' then
    local near = redis.call('GEOSEARCH', k('geo', wg, wpg, c), 'FROMLONLAT', lng, lat,
      'BYRADIUS', limit, 'km', 'ASC', 'COUNT', MAX_NEAR)
    if #near == 0 then
      return
    end
    local times = redis.call('ZMSCORE', q, unpack(near))
    for i, w in ipairs(near) do
      local s = tonumber(times[i])
      if s and s < best_since and usable(w, s, wg, wpg, c) == 'yes' then
        best, best_since, best_b, best_pg, best_c = w, s, wg, wpg, c
      end
    end
  end
end

-- Probes up to `probes` of `classes` of bucket (wg, wpg), the oldest heads first.
local function look(wg, wpg, classes, probes)
  local n = candidates(wg, wpg, classes)
  for r = 1, n do
    local i = ORDER[r]
    if probes == 0 or FIT_HEAD[i] >= best_since then
      return
    end
    probe(wg, wpg, FIT_CLASS[i], FIT_LIMIT[i])
    probes = probes - 1
  end
end

-- The oldest usable waiter over the classes that fit both ways, in the scopes the
-- caller may meet (their age band; a shared language, or anyone's when either said
-- none): uid, enqueue time, bucket, their preferred gender, class (nil: nobody).
local function search()
  best, best_since = nil, math.huge
  local o = opens()
  local buckets, pgs, n = o[1], o[2], o[4]
  -- only buckets with some class are opened (a count kept by HINCRBY: a bucket whose
  -- count went wrong, e.g. evicted, is opened too and costs one empty read)
  local occupied = redis.call('HMGET', k('buckets'), unpack(o[3], 1, n))
  for i = 1, n do
    if occupied[i] and occupied[i] ~= '0' then
      local b, wpg = buckets[i], pgs[i]
      local classes, probes, window, window_probes = to_look_at(b, wpg)
      look(b, wpg, classes, probes)
      if window then
        look(b, wpg, window, window_probes)
      end
    end
  end
  return best, best_since, best_b, best_pg, best_c
end
