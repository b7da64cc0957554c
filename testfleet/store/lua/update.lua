-- Store a case's progress (and publish an event) unless the case is final.
-- KEYS: 3 run hash, 4 state hash, 5 cases hash.
-- ARGV: 5 case id, 6 case json, 7-11 the event's entry values (all '' for none)
local state = redis.call('HGET', KEYS[4], ARGV[5])
if not state or FINAL[state] then return 0 end
redis.call('HSET', KEYS[5], ARGV[5], ARGV[6])
if ARGV[7] ~= '' then emit(event_at(7)) end
return 1
