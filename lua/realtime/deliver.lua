-- Delivers one event to users (see event.lua). With a Cluster, called once per user
-- (their stream and channel share the user's slot).
-- KEYS[1..n] the users' streams (<prefix>{u:<uid>}:ev), for routing
-- ARGV[1] prefix, ARGV[2] channel ('' on a Cluster), ARGV[3] event (JSON), ARGV[4] '1' when
-- the users were answered with it already (see event.lua), else '', ARGV[5..] the users
-- Returns the stream ids, in the users' order
local ids = {}
local answered = ARGV[4] == '1'
for i = 5, #ARGV do
  ids[#ids + 1] = deliver(ARGV[1], ARGV[2], ARGV[i], ARGV[3], answered)
end
flush(ARGV[2])
return ids
