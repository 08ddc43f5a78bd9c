-- Puts a user in the pool and pairs them with the longest-waiting compatible user.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] gender, ARGV[5] age,
-- ARGV[6] preferred gender (male|female|all), ARGV[7] min age, ARGV[8] max age,
-- ARGV[9] radius km (0: none), ARGV[10] lng ('' when unknown), ARGV[11] lat,
-- ARGV[12] gems owed if matched, ARGV[13] public card (JSON), ARGV[14] now (ms),
-- ARGV[15] id for a new match, ARGV[16] decision window (ms), ARGV[17] rematch cooldown (ms),
-- ARGV[18] ghost timeout (ms), ARGV[19] the user's gem balance,
-- ARGV[20..] users never to pair with (blocks either way)
-- Returns {'pending', match id, partner card, deadline}   an undecided match exists already
--         {'charging'}   the user's match is being paid for (by another request): wait for it
--         {'broke'}   too few gems for a filtered match: not queued (and out of the pool)
--         {'paired', match id, partner card, deadline, partner uid, partner's gems owed, partner's enqueue time}
--         {'waiting'}
local uid, g, pg = ARGV[3], ARGV[4], ARGV[6]
local age, amin, amax, radius = tonumber(ARGV[5]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local lng, lat, card = ARGV[10], ARGV[11], ARGV[13]
local now, show = tonumber(ARGV[14]), tonumber(ARGV[16])
local cooldown, ghost = tonumber(ARGV[17]), tonumber(ARGV[18])
local cls = ARGV[5] .. ':' .. ARGV[7] .. ':' .. ARGV[8] .. ':' .. ARGV[9]
if radius > 0 and lng ~= '' then
  -- a radius class also names its 1°x1° cell, so that far callers can skip it unsearched
  cls = cls .. ':' .. string.format('%d', math.floor(tonumber(lat))) .. ':' .. string.format('%d', math.floor(tonumber(lng)))
end

-- 1. an undecided match is answered again until it is decided or its window ends
local current = redis.call('GET', k('um', uid))
if current then
  local m = redis.call('HMGET', k('m', current), 'a', 'status', 'deadline', 'card_a', 'card_b', 'unpaid')
  if m[2] == 'pending' and tonumber(m[3]) > now then
    if m[6] then
      return reply({'charging'})
    end
    return reply({'pending', current, (m[1] == uid) and m[5] or m[4], m[3]})
  end
  if m[2] == 'pending' then
    finish(current, 'next')
  else
    redis.call('DEL', k('um', uid))
  end
end

local ticket = k('ticket', uid)
if tonumber(ARGV[12]) > tonumber(ARGV[19]) then
  unindex(uid)
  redis.call('DEL', ticket)
  return reply({'broke'})
end

-- 2. out of the indexes while searching; a waiting user keeps their place in line
local prev = redis.call('HMGET', ticket, 'since', 'parked')
local since = ARGV[14]
if prev[1] and prev[2] ~= '1' then
  since = prev[1]
end
unindex(uid)

-- 3. never offered: self, blocks either way, recent partners, ghosts
local excluded, n_excluded = {[uid] = true}, 1
for i = 20, #ARGV do
  excluded[ARGV[i]] = true
  n_excluded = n_excluded + 1
end
local recent = k('recent', uid)
redis.call('ZREMRANGEBYSCORE', recent, '-inf', now - cooldown)
for _, r in ipairs(redis.call('ZRANGE', recent, 0, -1)) do
  excluded[r] = true
  n_excluded = n_excluded + 1
end

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

-- Takes a waiter out of one class's queue and geo set, and out of the pool (a
-- ghost, or an entry whose ticket is gone, e.g. evicted under maxmemory).
local function drop(uid, wg, wpg, c)
  local q = k('q', wg, wpg, c)
  redis.call('ZREM', q, uid)
  redis.call('ZREM', k('geo', wg, wpg, c), uid)
  if redis.call('ZCARD', q) == 0 then
    redis.call('ZREM', k('cls', wg, wpg), c)
  end
  redis.call('ZREM', k('seen'), uid)
  redis.call('DEL', k('ticket', uid))
end

-- True when a waiter of class (wg, wpg, c) may be offered; ghosts leave the pool on sight.
local function usable(uid, wg, wpg, c)
  if excluded[uid] then
    return false
  end
  if tonumber(redis.call('ZSCORE', k('seen'), uid) or '0') < now - ghost then
    drop(uid, wg, wpg, c)
    return false
  end
  return true
end

-- Every loop is bounded: a queue head is looked for past at most MAX_SKIPS users who
-- may not be offered (the caller's exclusions and ghosts), and a radius class offers
-- at most MAX_NEAR of its waiters nearest the caller (the oldest of those wins).
local MAX_SKIPS, MAX_NEAR = 64 + n_excluded, 256

-- 4. the oldest usable waiter over the classes that fit both ways: {uid, since, wg, wpg, class}
local function search()
  local best = {nil, math.huge}
  local wanted = (pg == 'all') and {'male', 'female'} or {pg}
  for _, wg in ipairs(wanted) do
    for _, wpg in ipairs({g, 'all'}) do
      for _, c in ipairs(redis.call('ZRANGEBYSCORE', k('cls', wg, wpg), amin, amax)) do
        local _, _, wmin, wmax, wr, clat, clng = string.find(c, '^%d+:(%d+):(%d+):(%d+):?(-?%d*):?(-?%d*)$')
        wmin, wmax, wr = tonumber(wmin), tonumber(wmax), tonumber(wr)
        local limit = radius
        if wr > 0 and (limit == 0 or wr < limit) then
          limit = wr
        end
        local reachable = clat == '' or lng == '' or cell_distance(tonumber(clat), tonumber(clng)) <= limit
        if wmin <= age and age <= wmax and reachable then
          local q = k('q', wg, wpg, c)
          if limit == 0 then
            local i = 0
            for _ = 1, MAX_SKIPS do
              local head = redis.call('ZRANGE', q, i, i, 'WITHSCORES')
              if #head == 0 or tonumber(head[2]) >= best[2] then
                break
              end
              if usable(head[1], wg, wpg, c) then
                best = {head[1], tonumber(head[2]), wg, wpg, c}
                break
              end
              if excluded[head[1]] then
                i = i + 1 -- a removed ghost shifts the rest down instead
              end
            end
          elseif lng ~= '' then
            local near = redis.call('GEOSEARCH', k('geo', wg, wpg, c), 'FROMLONLAT', lng, lat,
              'BYRADIUS', limit, 'km', 'ASC', 'COUNT', MAX_NEAR)
            for _, w in ipairs(near) do
              local s = tonumber(redis.call('ZSCORE', q, w))
              if s and s < best[2] and usable(w, wg, wpg, c) then
                best = {w, s, wg, wpg, c}
              end
            end
          end
        end
      end
    end
  end
  return best
end

-- a partner whose ticket vanished (evicted) is dropped and the search runs again
local best, best_since, p
for _ = 1, 3 do
  local found = search()
  best, best_since = found[1], found[2]
  if not best then
    break
  end
  p = redis.call('HMGET', k('ticket', best), 'card', 'cost')
  if p[1] then
    break
  end
  drop(best, found[3], found[4], found[5])
  best = nil
end

-- 5a. nobody fits: wait in the pool
redis.call('HSET', ticket, 'g', g, 'a', ARGV[5], 'pg', pg, 'cls', cls, 'lng', lng, 'lat', lat,
  'since', since, 'cost', ARGV[12], 'card', card)
if not best then
  redis.call('HDEL', ticket, 'parked')
  redis.call('PERSIST', ticket)
  index(uid, g, pg, cls, ARGV[5], since, lng, lat, ARGV[14])
  return reply({'waiting'})
end

-- 5b. a pair: both tickets are parked (kept a while, so that an unpaid match can be undone)
local partner = k('ticket', best)
unindex(best)
local keep = string.format('%d', show + 60000)
for _, t in ipairs({ticket, partner}) do
  redis.call('HSET', t, 'parked', '1')
  redis.call('PEXPIRE', t, keep)
end
local mid = ARGV[15]
local deadline = now + show
local deadline_ms = string.format('%d', deadline)
redis.call('HSET', k('m', mid), 'a', uid, 'b', best, 'status', 'pending', 'deadline', deadline_ms,
  'card_a', card, 'card_b', p[1], 'created', ARGV[14])
redis.call('PEXPIRE', k('m', mid), keep)
redis.call('SET', k('um', uid), mid, 'PX', keep)
redis.call('SET', k('um', best), mid, 'PX', keep)
redis.call('ZADD', k('deadlines'), deadline_ms, mid)
local cooldown_ms = ARGV[17] == '0' and '1' or ARGV[17]
for _, pair in ipairs({{uid, best}, {best, uid}}) do
  local r = k('recent', pair[1])
  redis.call('ZADD', r, ARGV[14], pair[2])
  redis.call('PEXPIRE', r, cooldown_ms)
end
-- free pairs are announced here; pairs that owe gems once the gems are charged (confirm.lua)
if tonumber(ARGV[12]) > 0 or tonumber(p[2]) > 0 then
  redis.call('HSET', k('m', mid), 'unpaid', '1')
else
  local found = '{"type":"match_found","match_id":' .. mid .. ',"show_time_sec":' .. math.floor(show / 1000) .. ',"matched_user":'
  publish({best}, found .. card .. '}')
  publish({uid}, found .. p[1] .. '}')
end
return reply({'paired', mid, p[1], deadline_ms, best, p[2], string.format('%d', best_since)})
