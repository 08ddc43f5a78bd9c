-- One user's accept or reject of an undecided match.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] match id,
-- ARGV[5] 'accept' | 'reject', ARGV[6] now (ms)
-- Returns {'missing'} | {'forbidden'} | {'matched'} | {'next'}
--         {'waiting', deadline}: accepted, the partner has not decided yet
local uid, mid, now = ARGV[3], ARGV[4], tonumber(ARGV[6])
local m = redis.call('HMGET', k('m', mid), 'a', 'b', 'status', 'deadline', 'da', 'db', 'unpaid')
-- a match not paid for yet was never announced
if not m[1] or m[7] then
  return reply({'missing'})
end
local side = (m[1] == uid and 'a') or (m[2] == uid and 'b')
if not side then
  return reply({'forbidden'})
end
if m[3] ~= 'pending' then
  return reply({m[3]})
end
-- undecided at the deadline counts as reject
if now >= tonumber(m[4]) or ARGV[5] == 'reject' then
  finish(mid, 'next')
  return reply({'next'})
end
redis.call('HSET', k('m', mid), 'd' .. side, 'accept')
if (side == 'a' and m[6] or m[5]) == 'accept' then
  finish(mid, 'matched')
  return reply({'matched'})
end
return reply({'waiting', m[4]})
