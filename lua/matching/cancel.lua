-- A user leaves the pool and any undecided match (the partner is told 'next'). After
-- their settings changed, ARGV[4] says how: 'requeue' leaves the pool only (an undecided
-- match stays), 'move' (to another region, so another shard) ends the match too. Then
-- their ticket, which holds the old settings, goes, and a long poll of theirs, told by
-- the internal event pool_left, enters again with the new ones.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] '', 'requeue' or 'move'
-- Returns {1 if they were waiting else 0, id of the match ended or ''}
local uid, mode = ARGV[3], ARGV[4]
local waiting = unindex(uid)
-- (a ticket parked for a pair being paid for goes too: unpair.lua would put the old
-- settings back in line)
redis.call('DEL', k('ticket', uid))
if waiting and mode ~= '' then
  publish('{"type":"pool_left"}', uid)
end
if mode == 'requeue' then
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
