-- Count one verification attempt before the code is compared, so that
-- concurrent attempts can never exceed the maximum.
-- KEYS[1] code hash
-- ARGV[1] maximum attempts per code
-- Returns {0, attempt number, stored hash, expires_at} claimed;
--         {1} no code (never sent, expired or used);
--         {2, attempts} attempts exhausted
local code = redis.call('HMGET', KEYS[1], 'h', 'attempts', 'exp')
if not code[1] then
  return {1}
end
local attempts = tonumber(code[2])
if attempts >= tonumber(ARGV[1]) then
  return {2, attempts}
end
attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {0, attempts, code[1], tonumber(code[3])}
