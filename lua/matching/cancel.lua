-- A user leaves the pool and any undecided match (the partner is told 'next'). With
-- ARGV[4] 'requeue' (their settings changed) they leave the pool only: their ticket
-- holds the settings they had, and a long poll of theirs, told by the internal event
-- pool_left, enters again with the new ones; an undecided match stays.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] 'requeue' or ''
-- Returns {1 if they were waiting else 0, id of the match ended or ''}
local uid = ARGV[3]
local waiting = unindex(uid)
-- (a ticket parked for a pair being paid for goes too: unpair.lua would put the old
-- settings back in line)
redis.call('DEL', k('ticket', uid))
if ARGV[4] == 'requeue' then
  if waiting then
    publish('{"type":"pool_left"}', uid)
  end
  return reply({waiting and 1 or 0, ''})
end
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
