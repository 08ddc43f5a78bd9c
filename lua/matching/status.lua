-- Where a user stands in the pool of one shard (GET /api/match/status/).
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] uid, ARGV[4] now (ms)
-- Returns {'pending'|'waiting'|'idle', enqueue time or '', users waiting,
--          median wait (ms) or '', class (when waiting) or ''}
-- A match past its deadline is over (undecided counts as reject), as for a decision
-- or a random, even before the housekeeping ends it.
local uid = ARGV[3]
local waiting = redis.call('ZCARD', k('seen'))
local eta = redis.call('HGET', k('stats'), 'eta') or ''
local mid = redis.call('GET', k('um', uid))
if mid then
  local m = redis.call('HMGET', k('m', mid), 'status', 'unpaid', 'deadline')
  if m[1] == 'pending' and not m[2] and tonumber(m[3]) > tonumber(ARGV[4]) then
    return reply({'pending', '', waiting, eta, ''})
  end
end
local t = redis.call('HMGET', k('ticket', uid), 'since', 'parked', 'cls')
if t[1] and t[2] ~= '1' then
  return reply({'waiting', t[1], waiting, eta, t[3]})
end
return reply({'idle', '', waiting, eta, ''})
