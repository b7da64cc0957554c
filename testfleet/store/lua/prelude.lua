-- Prepended to every run store script (testfleet/store/scripts.py).
--
-- KEYS: 1 global stream, 2 run stream; and where a script uses them:
--       3 run hash, 4 state hash, 5 cases hash, 6 specs hash, 7 archive stream.
-- ARGV: 1 what the scripts are told (JSON): 'rules', the final statuses and how a run's
--       status follows from its cases' (testfleet.results), and 'stream', the names
--       events are written with (testfleet.stream.lua_layout); 2 global stream maxlen,
--       3 run stream maxlen, 4 run ttl (s); each script's own arguments start at ARGV[5].
-- An event is passed as its entry's values (testfleet.stream.entry_values): type,
-- channel, run id, project, body, in STREAM.entry's order.

local DATA = cjson.decode(ARGV[1])
local RULES = DATA.rules
local STREAM = DATA.stream
local FINAL = {}
for _, status in ipairs(RULES.final) do FINAL[status] = true end

-- The entry values of the event at ARGV[i .. i + 4].
local function event_at(i)
  return {ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]}
end

-- XADD one event (its entry values) to the global stream and, with the same id, to its
-- run's stream (an event of no run, the fleet's, goes to the global stream only).
local function emit(values)
  local fields = {}
  for i, name in ipairs(STREAM.entry) do
    fields[2 * i - 1] = name
    fields[2 * i] = values[i]
  end
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
  if values[3] ~= '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], id, unpack(fields))
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  end
  return id
end
