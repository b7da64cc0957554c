"""testfleet: the shared language of the fleet (settings, suites, events, results, keys)."""
