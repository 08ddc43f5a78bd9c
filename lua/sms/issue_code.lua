-- Store a new verification code for a phone, within the resend cooldown and
-- the daily limit. The previous code and its attempt count are replaced.
-- KEYS[1] code hash, KEYS[2] cooldown flag, KEYS[3] daily counter
-- ARGV[1] keyed hash of the code, ARGV[2] code TTL (s), ARGV[3] cooldown (s),
-- ARGV[4] daily limit, ARGV[5] now (unix s)
-- Returns {0, expires_at} stored; {1, wait} cooldown; {2, wait} daily limit reached
local wait = redis.call('TTL', KEYS[2])
if wait > 0 then
  return {1, wait}
end
local sent = tonumber(redis.call('GET', KEYS[3]) or '0')
if sent >= tonumber(ARGV[4]) then
  return {2, math.max(redis.call('TTL', KEYS[3]), 1)}
end
local expires_at = tonumber(ARGV[5]) + tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'attempts', 0, 'exp', expires_at)
redis.call('EXPIRE', KEYS[1], ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], 1, 'EX', ARGV[3])
end
if redis.call('INCR', KEYS[3]) == 1 then
  redis.call('EXPIRE', KEYS[3], 86400)
end
return {0, expires_at}
