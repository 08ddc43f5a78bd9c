-- Rotate a session's refresh token, detecting reuse of a rotated one.
-- KEYS[1] session key, value "<uid>:<current refresh jti>"
-- ARGV[1] jti of the presented refresh token
-- ARGV[2] jti of the new refresh token
-- ARGV[3] session lifetime in seconds
-- Returns: 1 rotated; 0 no such session (revoked or expired);
--          -1 the presented token was already rotated: the session is revoked.
local current = redis.call('GET', KEYS[1])
if not current then
  return 0
end
local sep = string.find(current, ':', 1, true)
local uid = string.sub(current, 1, sep - 1)
if string.sub(current, sep + 1) ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('SET', KEYS[1], uid .. ':' .. ARGV[2], 'EX', ARGV[3])
return 1
