-- One user's accept or reject of an undecided match.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] match id,
-- ARGV[5] 'accept' | 'reject', ARGV[6] now (ms)
-- Returns {'missing'} | {'forbidden'} | {'matched'} | {'next'}
--         {'waiting', deadline}: accepted, the partner has not decided yet
local uid, mid = ARGV[3], ARGV[4]
local m = redis.call('HMGET', k('m', mid), 'a', 'b', 'unpaid', 'status', 'deadline', 'da', 'db')
-- a match not paid for yet was never announced
if not m[1] or m[3] then
  return reply({'missing'})
end
local side = (m[1] == uid and 'a') or (m[2] == uid and 'b')
if not side then
  return reply({'forbidden'})
end
if m[4] ~= 'pending' then
  return reply({m[4]})
end
-- undecided at the deadline counts as reject
local late = tonumber(ARGV[6]) >= tonumber(m[5])
if late or ARGV[5] == 'reject' then
  finish(mid, 'next', m, not late)
  return reply({'next'})
end
redis.call('HSET', k('m', mid), 'd' .. side, 'accept')
if (side == 'a' and m[7] or m[6]) == 'accept' then
  finish(mid, 'matched', m)
  return reply({'matched'})
end
return reply({'waiting', m[5]})
