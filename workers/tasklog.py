"""Celery's own log lines about a case carry its run and case ids, like the task's own.

Celery logs ``Task testfleet.run_case[<id>] received`` / ``succeeded`` / ``failed``
outside the task (in the consumer, after it returns), so the task's
``log_context`` does not reach them. Celery passes what it logs as the record's
``data`` (the task name and its arguments' repr): this filter reads the run and
case ids from there.
"""

from __future__ import annotations

import ast
import logging

from testfleet.constants import RUN_CASE_TASK


class TaskLogFields(logging.Filter):
    """Adds ``run_id`` / ``case_id`` to Celery's records about ``run_case`` tasks."""

    def filter(self, record: logging.LogRecord) -> bool:
        data = getattr(record, "data", None)
        if not isinstance(data, dict) or data.get("name") != RUN_CASE_TASK:
            return True
        if getattr(record, "run_id", None):
            return True
        try:
            args = ast.literal_eval(str(data.get("args")))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return True  # not the (run_id, case_id) it should be: leave the line as it is
        if isinstance(args, tuple | list) and len(args) == 2:
            record.run_id, record.case_id = str(args[0]), str(args[1])
        return True
