-- Housekeeping of one shard, run twice a second by every node (running it twice is
-- harmless): waiting users with no sign of life leave the pool, undecided matches past
-- their deadline end as 'next', refunds older than ARGV[6] ms are forgotten, and so
-- are pairs older than the rematch cooldown.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] now (ms), ARGV[4] ghost timeout (ms),
-- ARGV[5] most per kind, ARGV[6] how long a refund stays noted (ms),
-- ARGV[7] rematch cooldown (ms)
-- Returns {ghosts removed, matches expired, users waiting, ids of matches to refund...}
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
-- a refund is retried while a slow charge may still commit (the charges are idempotent)
redis.call('ZREMRANGEBYSCORE', k('refunds'), '-inf', now - tonumber(ARGV[6]))
redis.call('ZREMRANGEBYSCORE', k('recent'), '-inf', '(' .. string.format('%d', now - tonumber(ARGV[7])))
local out = {#ghosts, #expired, redis.call('ZCARD', k('seen'))}
for _, mid in ipairs(redis.call('ZRANGE', k('refunds'), 0, most - 1)) do
  out[#out + 1] = mid
end
return reply(out)
