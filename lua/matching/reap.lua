-- Housekeeping of one shard, run twice a second by every node (running it twice is
-- harmless): waiting users with no sign of life leave the pool, undecided matches past
-- their deadline end as 'next', waiters whose filters relax are filed again under the
-- wider ones (keeping their place in line), refunds older than ARGV[6] ms are forgotten,
-- and so are pairs older than the rematch cooldown; the median wait is taken again.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] now (ms), ARGV[4] ghost timeout (ms),
-- ARGV[5] most per kind, ARGV[6] how long a refund stays noted (ms),
-- ARGV[7] rematch cooldown (ms)
-- Returns {ghosts removed, matches expired, users waiting, median wait (ms, -1: no pairs),
--          ids of matches to refund...}
local now, most = tonumber(ARGV[3]), tonumber(ARGV[5])
local ghosts = redis.call('ZRANGEBYSCORE', k('seen'), '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, most)
for _, uid in ipairs(ghosts) do
  unindex(uid)
  redis.call('DEL', k('ticket', uid))
end
local expired = redis.call('ZRANGEBYSCORE', k('deadlines'), '-inf', now, 'LIMIT', 0, most)
for _, mid in ipairs(expired) do
  finish(mid, 'next')
end
for _, uid in ipairs(redis.call('ZRANGEBYSCORE', k('relax'), '-inf', now, 'LIMIT', 0, most)) do
  local key = k('ticket', uid)
  local t = redis.call('HMGET', key, 'g', 'pg', 'cls', 'a', 'since', 'lng', 'lat', 'parked', 'sc', 'rx', 'ba')
  local seen = redis.call('ZSCORE', k('seen'), uid)
  if not t[1] or t[8] == '1' or not t[10] or t[10] == '' or not seen then
    redis.call('ZREM', k('relax'), uid)
  else
    local _, _, bmin, bmax, br = string.find(t[11], '^(%d+):(%d+):(%d+)$')
    local amin, amax, r, next_at = relaxed(tonumber(bmin), tonumber(bmax), tonumber(br), t[10], tonumber(t[5]), now)
    local cls = class_of(t[4], amin, amax, r, t[6], t[7])
    if cls ~= t[3] then
      unindex_from(uid, t[9], t[1], t[2], t[3], t[6])
      index(uid, t[9], t[1], t[2], cls, t[4], t[5], t[6], t[7], seen)
      redis.call('HSET', key, 'cls', cls)
    end
    if next_at then
      redis.call('ZADD', k('relax'), next_at, uid)
    else
      redis.call('ZREM', k('relax'), uid)
    end
  end
end
-- the median wait of the last 1000 pairs of the last 10 minutes
redis.call('ZREMRANGEBYSCORE', k('waits'), '-inf', '(' .. string.format('%d', now - 600000))
redis.call('ZREMRANGEBYRANK', k('waits'), 0, -1001)
local waits = {}
for i, w in ipairs(redis.call('ZRANGE', k('waits'), 0, -1)) do
  waits[i] = tonumber(string.match(w, ':(%d+)$')) or 0
end
local median = -1
if #waits > 0 then
  table.sort(waits)
  median = waits[math.floor((#waits + 1) / 2)]
  redis.call('HSET', k('stats'), 'eta', median)
else
  redis.call('HDEL', k('stats'), 'eta')
end
-- a refund is retried while a slow charge may still commit (the charges are idempotent)
redis.call('ZREMRANGEBYSCORE', k('refunds'), '-inf', now - tonumber(ARGV[6]))
redis.call('ZREMRANGEBYSCORE', k('recent'), '-inf', '(' .. string.format('%d', now - tonumber(ARGV[7])))
local out = {#ghosts, #expired, redis.call('ZCARD', k('seen')), median}
for _, mid in ipairs(redis.call('ZRANGE', k('refunds'), 0, most - 1)) do
  out[#out + 1] = mid
end
return reply(out)
