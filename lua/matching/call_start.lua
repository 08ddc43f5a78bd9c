-- The call session id of a matched match: the same one for both users.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] match id,
-- ARGV[5] a fresh call session id, used if the match has none yet
-- Returns {'missing'} | {'forbidden'} | {'unmatched', status} | {'call', session id, a, b}
local uid, mid = ARGV[3], ARGV[4]
local key = k('m', mid)
local m = redis.call('HMGET', key, 'a', 'b', 'status', 'call')
if not m[1] then
  return reply({'missing'})
end
if m[1] ~= uid and m[2] ~= uid then
  return reply({'forbidden'})
end
if m[3] ~= 'matched' then
  return reply({'unmatched', m[3]})
end
local sid = m[4]
if not sid then
  sid = ARGV[5]
  redis.call('HSET', key, 'call', sid)
end
return reply({'call', sid, m[1], m[2]})
