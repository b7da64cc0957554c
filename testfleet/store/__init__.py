"""The run store: the one owner of the run record in Redis.

- ``layout``: the run hash's fields and turning Redis replies into models;
- ``scripts``: the Lua scripts (``lua/*.lua``, package data) and the status rules
  they are given;
- ``query``: a read as data (the commands and the parse of their replies);
- ``listing``: a project's runs, newest first, filtered and paged, as a plan of queries;
- ``reads``: every other read as a query, all run by ``RunReader`` (sync) and
  ``AsyncRunReader`` (asyncio);
- ``writes``: ``RunStore``, the writes (exactly-once transitions), plus the reads.

Everything else reads runs through these and their models (``RunResult``,
``RunOverview``, ``RunHead``, ``CaseResult``), never the hash fields.
"""

from testfleet.store.reads import AsyncRunReader, RunReader
from testfleet.store.writes import Progressed, RunStore

__all__ = ["AsyncRunReader", "Progressed", "RunReader", "RunStore"]
