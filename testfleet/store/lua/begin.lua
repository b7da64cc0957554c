-- queued|running -> running, counting the attempt.
-- Returns the attempt number; 0 when the case is final (a redelivery: do nothing);
-- -1 when the run was cancelled; -2 when ARGV[7] earlier deliveries claimed the case
-- and none finished it (the caller records it as an error; nothing runs again);
-- -3 when the case does not exist.
-- With ARGV[8] set (a delivery starting the case: one round trip for all it reads), a
-- claim that is not 0 or -3 returns {that number, the run's record, the case's result,
-- the case's spec (only when an attempt began: false otherwise)}.
-- KEYS: 3 run hash, 4 state hash, 5 cases hash, 6 specs hash. ARGV: 5 case id, 6 '1' for
-- a delivery's first claim ('0' for its next attempt), 7 max lost deliveries (0: no cap),
-- 8 the run record's field in the run hash, or '' for the number alone.
local function claim()
  local state = redis.call('HGET', KEYS[4], ARGV[5])
  if not state then return -3 end
  if FINAL[state] then return 0 end
  if redis.call('HGET', KEYS[3], 'cancelled') == '1' then return -1 end
  if ARGV[6] == '1' then
    -- Every earlier delivery of a non-final case was lost: none recorded a result.
    local lost = redis.call('HINCRBY', KEYS[3], 'deliveries:' .. ARGV[5], 1) - 1
    local cap = tonumber(ARGV[7])
    if cap > 0 and lost >= cap then return -2 end
  end
  redis.call('HSET', KEYS[4], ARGV[5], 'running')
  return redis.call('HINCRBY', KEYS[3], 'attempts:' .. ARGV[5], 1)
end

local n = claim()
if ARGV[8] == '' or n == 0 or n == -3 then return n end
local spec = false
if n > 0 then spec = redis.call('HGET', KEYS[6], ARGV[5]) end
return {n, redis.call('HGET', KEYS[3], ARGV[8]), redis.call('HGET', KEYS[5], ARGV[5]), spec}
