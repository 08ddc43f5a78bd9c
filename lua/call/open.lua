-- Creates a call session once; later calls change nothing. A live session has no
-- expiry: it ends by a hang-up or by the idle reaper, which writes it first.
-- KEYS[1] call:{<session id>}
-- ARGV[1] match id, ARGV[2] user a, ARGV[3] user b, ARGV[4] now (ms)
-- Returns 1 created, 0 it existed
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'match_id', ARGV[1], 'a', ARGV[2], 'b', ARGV[3], 'started', ARGV[4])
return 1
