-- Housekeeping of one shard, run every second by every node (running it twice is harmless):
-- waiting users with no sign of life leave the pool, undecided matches past their
-- deadline end as 'next'.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] now (ms), ARGV[4] ghost timeout (ms), ARGV[5] most per kind
-- Returns {ghosts removed, matches expired, users waiting}
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
return {#ghosts, #expired, redis.call('ZCARD', k('seen'))}
