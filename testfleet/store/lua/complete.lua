-- A case's final status and the run's completion, shared by finish and cancel.
-- Counts live in the run hash as 'n:<status>'; the last final status completes the
-- run with run_completed, its status decided by RULES.outcomes (first match wins).
-- run_completed is the run's ``completion`` (testfleet.stream.completion: its entry and
-- envelope but the time and payload), finished here with names from STREAM.
-- A completed run's id is appended to the archive stream in the same step, so no finished
-- run can be missed by the archiver (one XADD: a case's finish is not slowed).
-- KEYS: 6 specs hash, 7 archive stream.
local function finalise(case_id, status, case_json, event, now, completion)
  redis.call('HSET', KEYS[4], case_id, status)
  redis.call('HSET', KEYS[5], case_id, case_json)
  -- A final case never runs again: its spec (secrets in clear) goes now, not at expiry.
  redis.call('HDEL', KEYS[6], case_id)
  emit(event)
  redis.call('HINCRBY', KEYS[3], 'n:' .. status, 1)
  local pending = redis.call('HINCRBY', KEYS[3], 'pending', -1)
  if pending > 0 then return 1 end
  local counts = {}
  local total = 0
  for _, s in ipairs(RULES.final) do
    local n = tonumber(redis.call('HGET', KEYS[3], 'n:' .. s) or '0')
    counts[s] = n
    total = total + n
  end
  local run_status = RULES.otherwise
  for _, outcome in ipairs(RULES.outcomes) do
    local seen = false
    for _, s in ipairs(outcome[2]) do
      if (counts[s] or 0) > 0 then seen = true end
    end
    if seen then
      run_status = outcome[1]
      break
    end
  end
  local created = tonumber(redis.call('HGET', KEYS[3], 'created_ms') or now)
  redis.call('HSET', KEYS[3], 'status', run_status, 'finished_ms', now)
  local done = cjson.decode(completion)
  local envelope = done.envelope
  local named = STREAM.completed
  envelope[STREAM.timestamp] = now
  envelope[STREAM.payload] = {[named.status] = run_status, [named.counts] = counts,
                              [named.total] = total, [named.duration] = now - created}
  local entry = done.entry
  entry[#entry + 1] = cjson.encode(envelope)
  emit(entry)
  redis.call('XADD', KEYS[7], '*', DATA.archive_field, entry[3])
  return 2
end
