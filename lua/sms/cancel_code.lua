-- Undo issue_code.lua when the SMS could not be sent, so that the user is
-- not charged a cooldown or a daily unit for a code they never received.
-- KEYS[1] code hash, KEYS[2] cooldown flag, KEYS[3] daily counter
-- ARGV[1] keyed hash of the code that was stored
-- Returns 1 undone, 0 a newer code replaced it meanwhile (left as is)
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then
  redis.call('DECR', KEYS[3])
end
return 1
