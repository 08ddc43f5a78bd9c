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
  if redis.call('HGET', k('m', mid), 'status') == 'pending' then
    finish(mid, 'next')
    ended = mid
  end
  redis.call('DEL', k('um', uid))
end
return reply({waiting and 1 or 0, ended})
