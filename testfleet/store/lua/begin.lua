-- queued|running -> running, counting the attempt.
-- Returns the attempt number; 0 when the case is final (a redelivery: do nothing);
-- -1 when the run was cancelled; -3 when the case does not exist.
-- KEYS: 3 run hash, 4 state hash. ARGV: 5 case id.
local state = redis.call('HGET', KEYS[4], ARGV[5])
if not state then return -3 end
if FINAL[state] then return 0 end
if redis.call('HGET', KEYS[3], 'cancelled') == '1' then return -1 end
redis.call('HSET', KEYS[4], ARGV[5], 'running')
return redis.call('HINCRBY', KEYS[3], 'attempts:' .. ARGV[5], 1)
