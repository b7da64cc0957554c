-- Store a case's progress (and publish an event) unless the case is final.
-- KEYS: 3 run hash, 4 state hash, 5 cases hash.
-- ARGV: 5 case id, 6 case json, 7 event type ('' for none), 8 channel, 9 run id,
--       10 project, 11 event body
local state = redis.call('HGET', KEYS[4], ARGV[5])
if not state or FINAL[state] then return 0 end
redis.call('HSET', KEYS[5], ARGV[5], ARGV[6])
if ARGV[7] ~= '' then emit(ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]) end
return 1
