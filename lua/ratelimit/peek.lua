-- Read a fixed-window counter without changing it.
-- KEYS[1] counter
-- Returns {count, seconds until the window ends (<= 0 when none)}
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
return {count, redis.call('TTL', KEYS[1])}
