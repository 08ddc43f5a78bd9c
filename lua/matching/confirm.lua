-- A pair's gems were charged: the match is announced to both users (match_found).
-- KEYS[1] T:seen
-- ARGV[1] T, ARGV[2] events channel, ARGV[3] match id, ARGV[4] now (ms)
-- Returns {1} announced | {0} the match ended meanwhile (deadline, cancel, or lost in a
-- failover): the caller gives the gems back
local mid = ARGV[3]
local key = k('m', mid)
local m = redis.call('HMGET', key, 'a', 'b', 'status', 'unpaid', 'card_a', 'card_b', 'deadline')
if m[3] ~= 'pending' or not m[4] then
  return reply({0})
end
redis.call('HDEL', key, 'unpaid')
local left = math.max(0, math.ceil((tonumber(m[7]) - tonumber(ARGV[4])) / 1000))
local found = '{"type":"match_found","match_id":' .. mid .. ',"show_time_sec":' .. string.format('%d', left) .. ',"matched_user":'
publish(found .. m[5] .. '}', m[2])
-- (m[1], the caller who paired, is answered by the request that is paying for it)
publish_answered(found .. m[6] .. '}', m[1])
return reply({1})
