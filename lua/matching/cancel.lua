-- A user leaves the pool and any undecided match (the partner is told 'next').
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid
-- Returns {1 if they were waiting else 0, id of the match ended or ''}
local uid = ARGV[3]
local waiting = unindex(uid)
redis.call('DEL', k('ticket', uid))
local ended = ''
local mid = redis.call('GET', k('um', uid))
if mid then
  local m = redis.call('HMGET', k('m', mid), 'a', 'b', 'unpaid', 'status')
  if m[4] == 'pending' then
    finish(mid, 'next', m)
    ended = mid
  else
    redis.call('DEL', k('um', uid))
  end
end
return reply({waiting and 1 or 0, ended})
