-- Marks a call session ended (the first end time stands) and keeps it an hour,
-- so that late hang-ups and signals find it ended.
-- KEYS[1] call:{<session id>}
-- ARGV[1] end time (ms)
-- Returns 1 marked now, 0 it was ended before
local marked = redis.call('HSETNX', KEYS[1], 'ended', ARGV[1])
redis.call('EXPIRE', KEYS[1], 3600)
return marked
