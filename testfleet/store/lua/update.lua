-- Store a case's progress (and publish an event) unless the case is final, and answer in
-- the same call what the delivery asks before its next step (RunStore.stop_query), so a
-- step costs one round trip.
-- KEYS: 3 run hash, 4 state hash, 5 cases hash.
-- ARGV: 5 case id, 6 case json, 7-11 the event's entry values (all '' for none)
-- Returns {0} when the case is final (nothing stored), else {1, the run's cancelled flag,
-- the attempts begun on the case}.
local state = redis.call('HGET', KEYS[4], ARGV[5])
if not state or FINAL[state] then return {0} end
redis.call('HSET', KEYS[5], ARGV[5], ARGV[6])
if ARGV[7] ~= '' then emit(event_at(7)) end
local cancelled = redis.call('HGET', KEYS[3], 'cancelled') or ''
local attempts = redis.call('HGET', KEYS[3], 'attempts:' .. ARGV[5]) or '0'
return {1, cancelled, attempts}
