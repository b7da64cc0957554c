-- XADD one event, no state change.
-- ARGV: 5-9 the event's entry values
return emit(event_at(5))
