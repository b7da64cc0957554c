"""A failure's evidence: per attempt and per step, the DOM, the console, the network and
the screenshots, packed into one trace zip (format version 1).

- ``modes``: which attempts are captured and which kept (``trace:`` of a suite or test);
- ``browserlog``: chromedriver's console and performance logs, read over WebDriver;
- ``console``, ``har``: those logs as ``console.jsonl`` lines and a HAR 1.2 document;
- ``snapshot`` + ``snapshot.js``: the DOM serialised in the browser, sealed for viewing;
- ``manifest``: ``trace.json``; ``tracezip``: the zip, and several attempts' zips in one;
- ``recorder``: what the executor reports a running attempt's evidence to;
- ``failure``: a failing step's console errors and failed requests, for its AI analysis;
- ``viewer``: the offline ``index.html`` (and the report's trace view).

Secrets: the case's masker runs over every text that enters a trace; password values
are never serialised; Cookie, Set-Cookie, Authorization and Proxy-Authorization header
values are dropped.
"""

from testfleet.artifacts.names import is_trace, trace_name
from testfleet.evidence.modes import captures, keeps

__all__ = ["captures", "is_trace", "keeps", "trace_name"]
