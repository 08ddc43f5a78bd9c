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
--         {'charging', match id}   the user's match is being paid for (by another request): wait
--         for it (its match_found to this user is marked answered: see event.lua)
--         {'broke'}   too few gems for a filtered match: not queued (and out of the pool)
--         {'paired', match id, partner card, deadline, partner uid, partner's gems owed, partner's enqueue time}
--         {'waiting', enqueue time, users waiting, median wait (ms) or '', min age, max age, radius}
--         (users waiting and median wait '' unless ARGV[24] asked for them)
local uid, g, pg = ARGV[3], ARGV[4], ARGV[6]
local age, amin, amax, radius = tonumber(ARGV[5]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local lng, lat, card = ARGV[10], ARGV[11], ARGV[13]
local now = tonumber(ARGV[14])
local scopes, searched, interests, rx = ARGV[20], ARGV[21], ARGV[22], ARGV[23]

-- 1. an undecided match is answered again until it is decided or its window ends
local current = redis.call('GET', k('um', uid))
if current then
  local m = redis.call('HMGET', k('m', current), 'a', 'b', 'status', 'deadline', 'card_a', 'card_b', 'unpaid')
  if m[3] == 'pending' and tonumber(m[4]) > now then
    if m[7] then
      return reply({'charging', current})
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

-- 3. the oldest usable waiter that fits both ways (search.lua); never offered: self,
-- blocks either way (ARGV), recent partners (T:recent), ghosts. A partner whose ticket
-- vanished (evicted) is dropped and the search runs again.
local recent_since = ARGV[17] ~= '0' and now - tonumber(ARGV[17]) or nil
search_setup(ARGV, uid, g, pg, age, amin, amax, amin_arg, amax_arg, radius, lng, lat, searched,
  now, ARGV[18], recent_since)
local best, best_since, p
for _ = 1, 3 do
  local b, wpg, c
  best, best_since, b, wpg, c = search()
  if not best then
    break
  end
  p = redis.call('HMGET', k('ticket', best), 'card', 'cost', 'lng', 'sc', 'g', 'pg', 'cls', 'int')
  if p[1] then
    break
  end
  drop(best, b, wpg, c)
  best = nil
end

local cost = ARGV[12]

-- 3a. nobody fits: wait in the pool
if not best then
  save_ticket(ticket, ARGV, cls, since, '0')
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

-- 3b. a pair: both leave the pool
local show = tonumber(ARGV[16])
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
local keep = string.format('%d', show + KEEP_ENDED)
-- (gems owed are the node's integers as text, never negative (config): free is '0')
local paid = cost ~= '0' or p[2] ~= '0'
if paid then
  -- kept parked a while, so that unpair.lua can put them back if the gems fail
  save_ticket(ticket, ARGV, cls, since, '1')
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
  publish(announced .. card .. '}', best)
  publish_answered(announced .. partner_card .. '}', uid)
end
return reply({'paired', mid, partner_card, deadline_ms, best, p[2], string.format('%d', best_since)})
