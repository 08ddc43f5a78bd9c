-- Takes one unit of a sliding-window limit: at most ARGV[2] units in any window of
-- ARGV[1] ms (no double burst at window edges, as fixed windows allow). Time is the
-- server's, so that every node counts on one clock.
-- KEYS[1] the limit (zset: one member per unit taken, scored by the time taken, ms)
-- ARGV[1] window (ms), ARGV[2] units per window, ARGV[3] this unit's member (unique)
-- Returns {1, 0} taken | {0, ms until the oldest unit leaves the window} full
local key, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', key, now, ARGV[3])
redis.call('PEXPIRE', key, window)
return {1, 0}
