-- Take one unit of a fixed-window limit, if the window has one left.
-- KEYS[1] counter
-- ARGV[1] window length in seconds
-- ARGV[2] units per window
-- Returns {allowed (1|0), count after, seconds until the window ends}
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[2]) then
  return {0, count, redis.call('TTL', KEYS[1])}
end
count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return {1, count, redis.call('TTL', KEYS[1])}
