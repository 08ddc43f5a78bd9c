-- Delivering one event to one user (prepended to every script that delivers events).
-- The event is appended to the user's stream <prefix>{u:<uid>}:ev (at most ~128
-- entries, gone 5 minutes after the last one: what a reconnecting client can
-- replay), then published with its stream id as {"to":[uid],"id":...,"event":...}:
-- on `channel` with a single Redis, or on the user's own sharded channel
-- <prefix>{u:<uid>}:ch when `channel` is '' (a Cluster: one SPUBLISH reaches the
-- one master of that slot and the nodes that serve the user, nobody else).
-- An event not `kept` (internal ones) is published only. Returns the stream id.
local EVENTS_KEEP_MS = 300000
local function deliver(prefix, channel, uid, event, kept)
  local id = ''
  if kept then
    local stream = prefix .. '{u:' .. uid .. '}:ev'
    id = redis.call('XADD', stream, 'MAXLEN', '~', 128, '*', 'e', event)
    redis.call('PEXPIRE', stream, EVENTS_KEEP_MS)
  end
  local message = '{"to":[' .. uid .. '],"id":"' .. id .. '","event":' .. event .. '}'
  if channel == '' then
    redis.call('SPUBLISH', prefix .. '{u:' .. uid .. '}:ch', message)
  else
    redis.call('PUBLISH', channel, message)
  end
  return id
end
