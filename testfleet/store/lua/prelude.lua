-- Prepended to every run store script (testfleet/store/scripts.py).
--
-- KEYS: 1 global stream, 2 run stream; and where a script uses them:
--       3 run hash, 4 state hash, 5 cases hash, 6 specs hash.
-- ARGV: 1 status rules (JSON from testfleet.results: final statuses and how a run's
--       status follows from its cases'), 2 global stream maxlen, 3 run stream maxlen,
--       4 run ttl (s); each script's own arguments start at ARGV[5].

-- XADD one event to the global stream and, with the same id, to the run's stream.
local function emit(typ, channel, run_id, project, body)
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*',
    't', typ, 'c', channel, 'r', run_id, 'p', project, 'd', body)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], id,
    't', typ, 'c', channel, 'r', run_id, 'p', project, 'd', body)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return id
end

local RULES = cjson.decode(ARGV[1])
local FINAL = {}
for _, status in ipairs(RULES.final) do FINAL[status] = true end
