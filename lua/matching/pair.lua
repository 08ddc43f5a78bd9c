-- Puts a user in the pool and pairs them with the longest-waiting compatible user.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] gender, ARGV[5] age,
-- ARGV[6] preferred gender (male|female|all), ARGV[7] min age, ARGV[8] max age,
-- ARGV[9] radius km (0: none), ARGV[10] lng ('' when unknown), ARGV[11] lat,
-- ARGV[12] gems owed if matched, ARGV[13] public card (JSON), ARGV[14] now (ms),
-- ARGV[15] id for a new match, ARGV[16] decision window (ms), ARGV[17] rematch cooldown (ms),
-- ARGV[18] ghost timeout (ms), ARGV[19] the user's gem balance, ARGV[20] the scopes the
-- user is filed under, ARGV[21] the scopes searched (comma-separated, see lib.lua),
-- ARGV[22] interests (JSON array), ARGV[23] relax rule ('' when off, see lib.lua),
-- ARGV[24] '1' when a waiting caller wants their queue status now,
-- ARGV[25..] users never to pair with (blocks either way)
-- Returns {'pending', match id, partner card, deadline}   an undecided match exists already
--         {'charging'}   the user's match is being paid for (by another request): wait for it
--         {'broke'}   too few gems for a filtered match: not queued (and out of the pool)
--         {'paired', match id, partner card, deadline, partner uid, partner's gems owed, partner's enqueue time}
--         {'waiting', enqueue time, users waiting, median wait (ms) or '', min age, max age, radius}
--         (users waiting and median wait '' unless ARGV[24] asked for them)
local uid, g, pg = ARGV[3], ARGV[4], ARGV[6]
local age, amin, amax, radius = tonumber(ARGV[5]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local lng, lat, card = ARGV[10], ARGV[11], ARGV[13]
local now, show = tonumber(ARGV[14]), tonumber(ARGV[16])
local ghost = tonumber(ARGV[18])
local scopes, searched, interests, rx = ARGV[20], ARGV[21], ARGV[22], ARGV[23]

-- 1. an undecided match is answered again until it is decided or its window ends
local current = redis.call('GET', k('um', uid))
if current then
  local m = redis.call('HMGET', k('m', current), 'a', 'b', 'status', 'deadline', 'card_a', 'card_b', 'unpaid')
  if m[3] == 'pending' and tonumber(m[4]) > now then
    if m[7] then
      return reply({'charging'})
    end
    return reply({'pending', current, (m[1] == uid) and m[6] or m[5], m[4]})
  end
  if m[3] == 'pending' then
    finish(current, 'next', {m[1], m[2], m[7]})
  else
    redis.call('DEL', k('um', uid))
  end
end

-- 2. where the user is: waiting (in class prev[3] of (prev[4], prev[5])), or not
local ticket = k('ticket', uid)
local prev = redis.call('HMGET', ticket, 'since', 'parked', 'cls', 'g', 'pg', 'lng', 'lat', 'sc')
local waiting = prev[3] ~= false and prev[2] ~= '1'
-- (a free match, '0', needs no balance: tonumber() runs strtod, ~900 instructions)
if ARGV[12] ~= '0' and tonumber(ARGV[12]) > tonumber(ARGV[19]) then
  if waiting then
    unindex_from(uid, prev[8], prev[4], prev[5], prev[3], prev[6])
  end
  redis.call('DEL', ticket)
  return reply({'broke'})
end
-- a waiting user keeps their place in line (and their filters relax with it), and their
-- entries while the class stays
local since = waiting and prev[1] or ARGV[14]
local relax_at
-- the age range as text, for the class index's range reads (see lib.lua)
local amin_arg, amax_arg = ARGV[7], ARGV[8]
if rx ~= '' then
  amin, amax, radius, relax_at = relaxed(amin, amax, radius, rx, tonumber(since), now)
  amin_arg, amax_arg = string.format('%d', amin), string.format('%d', amax)
end
local cls = class_of(age, amin, amax, radius, lng, lat)
local stays = waiting and prev[3] == cls and prev[4] == g and prev[5] == pg and prev[6] == lng
  and prev[7] == lat and prev[8] == scopes
if waiting and not stays then
  unindex_from(uid, prev[8], prev[4], prev[5], prev[3], prev[6])
end

-- 3. never offered: self, blocks either way (ARGV), recent partners (T:recent), ghosts
local excluded, n_excluded = {[uid] = true}, 1
for i = 25, #ARGV do
  excluded[ARGV[i]] = true
  n_excluded = n_excluded + 1
end
local recent_since = ARGV[17] ~= '0' and now - tonumber(ARGV[17]) or nil

-- A lower bound (km) of the distance from the caller to any point of a 1°x1° cell:
-- haversine with the nearest latitude and longitude of the cell, and cos² of the larger
-- latitude in place of cos φ1 · cos φ2 (Redis's earth radius).
local function cell_distance(clat, clng)
  local la, lo = tonumber(lat), tonumber(lng)
  local nla = math.min(math.max(la, clat), clat + 1)
  local dlng = 0
  if lo < clng or lo > clng + 1 then
    dlng = math.min(math.abs(lo - clng), math.abs(lo - clng - 1))
    dlng = math.min(dlng, 360 - dlng)
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

-- Whether a waiter of class (wg, wpg, c) may be offered: 'yes', 'no', or 'gone'
-- (a ghost, out of the pool on sight).
local function usable(w, wg, wpg, c)
  if excluded[w] then
    return 'no'
  end
  if recent_since and tonumber(redis.call('ZSCORE', k('recent'), pair_key(uid, w)) or '0') >= recent_since then
    excluded[w] = true
    return 'no'
  end
  if tonumber(redis.call('ZSCORE', k('seen'), w) or '0') < now - ghost then
    drop(w, wg, wpg, c)
    return 'gone'
  end
  return 'yes'
end

-- Every loop is bounded, whatever waits in the pool. A search looks at most at
-- MAX_CLASSES classes of a bucket in the caller's age range, and reads at most
-- MAX_PROBES of their queues and geo sets (the oldest heads first). When more classes
-- are in range (a crowd, which only many distinct settings make), it looks at the
-- NEWEST classes joined last (so that a newcomer is found at once) and at a WINDOW of
-- the others that moves on with every search by the same bucket and range (so that
-- every class gets its turn), with CROWD_PROBES probes each: the longest-waiting
-- compatible user may then be missed by one search, the price of the bound. In a
-- queue it steps past at most MAX_SKIPS users who may not be offered (blocks, recent
-- partners, ghosts), and a radius class offers at most MAX_NEAR of its waiters nearest
-- the caller (the oldest of those wins).
local MAX_CLASSES, MAX_PROBES = 48, 16
local CLASSES_READ = string.format('%d', MAX_CLASSES + 1)
local NEWEST, WINDOW, CROWD_PROBES = 8, 24, 4
local MAX_SKIPS, MAX_NEAR = 64 + n_excluded, 256

-- The classes of bucket (wg, wpg) to look at, as groups {classes, probes}: those with
-- an age in the caller's range, or in a crowd the newest and a window.
local function to_look_at(wg, wpg)
  local key = k('cls', wg, wpg)
  local list = redis.call('ZRANGEBYSCORE', key, amin_arg, amax_arg, 'LIMIT', '0', CLASSES_READ)
  if #list <= MAX_CLASSES then
    return {{list, MAX_PROBES}}
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
  return {{newest, CROWD_PROBES}, {window, CROWD_PROBES}}
end

-- Of `classes` of bucket (wg, wpg), those that fit the caller both ways on age and may
-- be within reach, each as {class, distance limit km, oldest waiter's enqueue time},
-- the oldest first.
local function candidates(wg, wpg, classes)
  local fit = {}
  for _, c in ipairs(classes) do
    local _, _, cage, wmin, wmax, wr, clat, clng = string.find(c, '^(%d+):(%d+):(%d+):(%d+):?(-?%d*):?(-?%d*)$')
    cage, wmin, wmax, wr = tonumber(cage), tonumber(wmin), tonumber(wmax), tonumber(wr)
    local limit = radius
    if wr > 0 and (limit == 0 or wr < limit) then
      limit = wr
    end
    if amin <= cage and cage <= amax and wmin <= age and age <= wmax
      and (clat == '' or lng == '' or cell_distance(tonumber(clat), tonumber(clng)) <= limit) then
      fit[#fit + 1] = {c, limit, 0}
    end
  end
  if #fit > 1 then
    local names = {}
    for i, f in ipairs(fit) do
      names[i] = f[1]
    end
    local heads = redis.call('ZMSCORE', k('heads', wg, wpg), unpack(names))
    for i, f in ipairs(fit) do
      f[3] = tonumber(heads[i]) or 0
    end
    table.sort(fit, function(a, b) return a[3] < b[3] end)
  end
  return fit
end

-- The oldest usable waiter of one class older than best[2] (best is updated).
local function probe(best, wg, wpg, c, limit)
  local q = k('q', wg, wpg, c)
  if limit == 0 then
    -- the rank read next, kept as text too (see lib.lua)
    local i, at = 0, '0'
    for _ = 1, MAX_SKIPS do
      local head = redis.call('ZRANGE', q, at, at, 'WITHSCORES')
      local since_w = head[2] and tonumber(head[2])
      if not since_w or since_w >= best[2] then
        return
      end
      local verdict = usable(head[1], wg, wpg, c)
      if verdict == 'yes' then
        best[1], best[2], best[3], best[4], best[5] = head[1], since_w, wg, wpg, c
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
      if s and s < best[2] and usable(w, wg, wpg, c) == 'yes' then
        best[1], best[2], best[3], best[4], best[5] = w, s, wg, wpg, c
      end
    end
  end
end

-- 4. the oldest usable waiter over the classes that fit both ways, in the scopes the
-- user may meet (their age band; a shared language, or anyone's when either said none):
-- {uid, since, bucket, wpg, class}
local function search()
  local best = {nil, math.huge}
  local wanted = (pg == 'all') and {'male', 'female'} or {pg}
  local buckets, names = {}, {}
  for s in string.gmatch(searched, '[^,]+') do
    for _, wg in ipairs(wanted) do
      for _, wpg in ipairs({g, 'all'}) do
        buckets[#buckets + 1] = {s .. '/' .. wg, wpg}
        names[#names + 1] = s .. '/' .. wg .. ':' .. wpg
      end
    end
  end
  -- only buckets with some class are opened (a count kept by HINCRBY: a bucket whose
  -- count went wrong, e.g. evicted, is opened too and costs one empty read)
  local occupied = redis.call('HMGET', k('buckets'), unpack(names))
  for i, bucket in ipairs(buckets) do
    if occupied[i] and occupied[i] ~= '0' then
      local b, wpg = bucket[1], bucket[2]
      for _, group in ipairs(to_look_at(b, wpg)) do
        local probes = group[2]
        for _, f in ipairs(candidates(b, wpg, group[1])) do
          if probes == 0 or f[3] >= best[2] then
            break
          end
          probe(best, b, wpg, f[1], f[2])
          probes = probes - 1
        end
      end
    end
  end
  return best
end

-- a partner whose ticket vanished (evicted) is dropped and the search runs again
local best, best_since, found, p
for _ = 1, 3 do
  found = search()
  best, best_since = found[1], found[2]
  if not best then
    break
  end
  p = redis.call('HMGET', k('ticket', best), 'card', 'cost', 'lng', 'sc', 'g', 'pg', 'cls', 'int')
  if p[1] then
    break
  end
  drop(best, found[3], found[4], found[5])
  best = nil
end

local cost = ARGV[12]
local function save_ticket(parked)
  redis.call('HSET', ticket, 'g', g, 'a', ARGV[5], 'pg', pg, 'cls', cls, 'lng', lng, 'lat', lat,
    'since', since, 'cost', cost, 'card', card, 'sc', scopes, 'int', interests, 'rx', rx,
    'ba', ARGV[7] .. ':' .. ARGV[8] .. ':' .. ARGV[9], 'parked', parked)
end

-- 4a. nobody fits: wait in the pool
if not best then
  save_ticket('0')
  if prev[2] == '1' then
    redis.call('PERSIST', ticket)
  end
  if stays then
    redis.call('ZADD', k('seen'), ARGV[14], uid)
  else
    index(uid, scopes, g, pg, cls, ARGV[5], since, lng, lat, ARGV[14])
  end
  if relax_at then
    redis.call('ZADD', k('relax'), relax_at, uid)
  end
  if ARGV[24] ~= '1' then
    return reply({'waiting', since, '', '', amin, amax, radius})
  end
  local eta = redis.call('HGET', k('stats'), 'eta') or ''
  return reply({'waiting', since, redis.call('ZCARD', k('seen')), eta, amin, amax, radius})
end

-- 4b. a pair: both leave the pool
unindex_from(best, p[4], p[5], p[6], p[7], p[3])
if stays then
  unindex_from(uid, scopes, g, pg, cls, lng)
end
-- what both share is shown on both cards
local shared = '[]'
if interests ~= '[]' and p[8] and p[8] ~= '[]' then
  local mine, both = {}, {}
  for _, tag in ipairs(cjson.decode(interests)) do
    mine[tag] = true
  end
  for _, tag in ipairs(cjson.decode(p[8])) do
    if mine[tag] then
      both[#both + 1] = tag
    end
  end
  if #both > 0 then
    table.sort(both)
    shared = cjson.encode(both)
  end
end
card = string.sub(card, 1, -2) .. ',"shared_interests":' .. shared .. '}'
local partner_card = string.sub(p[1], 1, -2) .. ',"shared_interests":' .. shared .. '}'
local partner = k('ticket', best)
-- a minute past the deadline (finish() relies on it for a match rejected in time)
local keep = string.format('%d', show + tonumber(KEEP_ENDED_MS))
-- (gems owed are the node's integers as text, never negative (config): free is '0')
local paid = cost ~= '0' or p[2] ~= '0'
if paid then
  -- kept parked a while, so that unpair.lua can put them back if the gems fail
  save_ticket('1')
  redis.call('HSET', partner, 'parked', '1')
  redis.call('PEXPIRE', ticket, keep)
  redis.call('PEXPIRE', partner, keep)
else
  redis.call('DEL', ticket, partner)
end
local mid = ARGV[15]
local match = k('m', mid)
local deadline_ms = string.format('%d', now + show)
redis.call('HSET', match, 'a', uid, 'b', best, 'status', 'pending', 'deadline', deadline_ms,
  'card_a', card, 'card_b', partner_card)
redis.call('PEXPIRE', match, keep)
redis.call('SET', k('um', uid), mid, 'PX', keep)
redis.call('SET', k('um', best), mid, 'PX', keep)
redis.call('ZADD', k('deadlines'), deadline_ms, mid)
if recent_since then
  redis.call('ZADD', k('recent'), ARGV[14], pair_key(uid, best))
end
-- (each request brings its own clock: a partner may have joined "later" than now)
redis.call('ZADD', k('waits'), ARGV[14], mid .. ':' .. string.format('%d', math.max(0, now - best_since)))
-- free pairs are announced here; pairs that owe gems once the gems are charged (confirm.lua)
if paid then
  redis.call('HSET', match, 'unpaid', '1')
else
  local announced = '{"type":"match_found","match_id":' .. mid .. ',"show_time_sec":' .. math.floor(show / 1000) .. ',"matched_user":'
  publish({best}, announced .. card .. '}')
  publish({uid}, announced .. partner_card .. '}')
end
return reply({'paired', mid, partner_card, deadline_ms, best, p[2], string.format('%d', best_since)})
