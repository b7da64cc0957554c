-- Every queued case -> cancelled at once; running ones see the flag at their next step.
-- Returns how many queued cases it cancelled.
-- KEYS: 3 run hash, 4 state hash, 5 cases hash.
-- ARGV: 5-8 unused, 9 run id, 10 project, 11 source, 12 now ms,
--       13.. triples of (case id, cancelled case json, event body)
redis.call('HSET', KEYS[3], 'cancelled', '1')
local n = 0
local i = 13
while ARGV[i] do
  local state = redis.call('HGET', KEYS[4], ARGV[i])
  if state == 'queued' then
    finalise(ARGV[i], 'cancelled', ARGV[i + 1], 'test_cancelled', ARGV[i + 2],
             tonumber(ARGV[12]))
    n = n + 1
  end
  i = i + 3
end
return n
