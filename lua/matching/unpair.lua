-- Undoes a pair whose gems could not be charged: the match ends as 'next', it does
-- not count for the rematch cooldown, and the users who can pay go back to their
-- place in line.
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] match id, ARGV[4] now (ms), ARGV[5..] users to put back
-- Returns {the number of users put back}
local mid, now = ARGV[3], tonumber(ARGV[4])
local m = redis.call('HMGET', k('m', mid), 'a', 'b')
-- finish notes a refund: a charge whose commit was lost to an error may still have happened
finish(mid, 'next')
if m[1] then
  redis.call('ZREM', k('recent'), pair_key(m[1], m[2]))
end
local back = 0
for i = 5, #ARGV do
  local uid = ARGV[i]
  local key = k('ticket', uid)
  local t = redis.call('HMGET', key, 'g', 'pg', 'cls', 'a', 'since', 'lng', 'lat', 'parked', 'sc')
  if t[8] == '1' then
    redis.call('HDEL', key, 'parked')
    redis.call('PERSIST', key)
    -- a ticket parked before scopes existed named no languages
    local sc = t[9] or ((tonumber(t[4]) < 18) and 'u*' or 'a*')
    index(uid, sc, t[1], t[2], t[3], t[4], t[5], t[6], t[7], now)
    back = back + 1
  end
end
return reply({back})
