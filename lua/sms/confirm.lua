-- Mark a phone verified after its code matched, consuming the code.
-- KEYS[1] code hash, KEYS[2] verified flag
-- ARGV[1] keyed hash that matched, ARGV[2] verified TTL (s), ARGV[3] now (unix s)
-- Returns 1 verified, 0 the code was replaced or consumed meanwhile
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
return 1
