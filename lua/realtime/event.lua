-- Delivering events to users (prepended to every script that delivers events, and to
-- the matching library, whose begin() empties UNSENT at the start of every call).
-- An event is appended to the user's stream <prefix>{u:<uid>}:ev (at most ~128
-- entries, kept at least 5 minutes after the last one: what a reconnecting client
-- can replay, and what a node that lost bus messages reads back; readers skip older
-- entries), then published with its stream id as two lines, {"to":[uid],"id":...} and
-- the event's JSON, written on one line (the node's bus.rs turns a raw newline, which
-- JSON allows only as whitespace, into a space), so that a node reads the event
-- without scanning it twice: with a single Redis on `channel`, where flush() sends a
-- script's messages as one PUBLISH (their lines one after another); on a Cluster
-- (`channel` is '') at once on the user's own sharded channel <prefix>{u:<uid>}:ch
-- (one SPUBLISH reaches the one master of that slot and the nodes that serve the
-- user, nobody else).
-- An event `answered` is one its user's own request was answered with (the caller of
-- a pairing: their `match_found`): its entry carries a = 1 and its first line
-- "answered":true, so that a long poll of the user does not take it when it comes late
-- (WebSockets and SSE get it as any other).
-- A stream's expiry is pushed to 10 minutes only when less than 5 are left: a read
-- per event and a write every 5 minutes, instead of a write per event (a write costs
-- Redis about twice a read, with its AOF record).
local EVENTS_KEEP_MS = 300000
local EVENTS_EXPIRE_MS = '600000'
-- the messages not yet published: UNSENT[1..N_UNSENT] (a table kept across the calls of
-- the library, so that a call allocates none)
local UNSENT, N_UNSENT = {}, 0

-- Returns the event's stream id.
local function deliver(prefix, channel, uid, event, answered)
  local stream = prefix .. '{u:' .. uid .. '}:ev'
  local id, message
  if answered then
    id = redis.call('XADD', stream, 'MAXLEN', '~', '128', '*', 'e', event, 'a', '1')
    message = '{"to":[' .. uid .. '],"id":"' .. id .. '","answered":true}\n' .. event
  else
    id = redis.call('XADD', stream, 'MAXLEN', '~', '128', '*', 'e', event)
    message = '{"to":[' .. uid .. '],"id":"' .. id .. '"}\n' .. event
  end
  if redis.call('PTTL', stream) < EVENTS_KEEP_MS then
    redis.call('PEXPIRE', stream, EVENTS_EXPIRE_MS)
  end
  if channel == '' then
    redis.call('SPUBLISH', prefix .. '{u:' .. uid .. '}:ch', message)
  else
    N_UNSENT = N_UNSENT + 1
    UNSENT[N_UNSENT] = message
  end
  return id
end

-- Publishes what deliver() left for `channel`; every script calls it before it returns.
local function flush(channel)
  if N_UNSENT > 0 then
    redis.call('PUBLISH', channel, table.concat(UNSENT, '\n', 1, N_UNSENT))
  end
  N_UNSENT = 0
end
