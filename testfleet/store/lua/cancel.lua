-- Every queued case -> cancelled at once; running ones see the flag at their next step.
-- Returns how many queued cases it cancelled.
-- KEYS: 3 run hash, 4 state hash, 5 cases hash.
-- ARGV: 5 now ms, 6 the run's completion (JSON, testfleet.stream.completion),
--       7.. groups of 7: case id, cancelled case json, the event's 5 entry values
redis.call('HSET', KEYS[3], 'cancelled', '1')
local n = 0
local i = 7
while ARGV[i] do
  local state = redis.call('HGET', KEYS[4], ARGV[i])
  if state == 'queued' then
    finalise(ARGV[i], 'cancelled', ARGV[i + 1], event_at(i + 2), tonumber(ARGV[5]), ARGV[6])
    n = n + 1
  end
  i = i + 7
end
return n
