-- running -> final, once. Returns 0 (and changes nothing) when already final.
-- KEYS: 3 run hash, 4 state hash, 5 cases hash.
-- ARGV: 5 case id, 6 status, 7 case json, 8 now ms, 9 the run's completion (JSON,
--       testfleet.stream.completion), 10-14 the final event's entry values
local state = redis.call('HGET', KEYS[4], ARGV[5])
if not state or FINAL[state] then return 0 end
return finalise(ARGV[5], ARGV[6], ARGV[7], event_at(10), tonumber(ARGV[8]), ARGV[9])
