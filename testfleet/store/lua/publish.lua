-- XADD one event, no state change.
-- ARGV: 5 type, 6 channel, 7 run id, 8 project, 9 body
return emit(ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
