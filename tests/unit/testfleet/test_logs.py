"""The one logging setup: JSON lines or text, context fields, masking, logger names."""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from testfleet import logs
from testfleet.constants import RUN_CASE_TASK
from testfleet.settings import LogSettings, Settings
from testfleet.suites.model import Masker
from workers.tasklog import TaskLogFields

PACKAGES = ("testfleet", "api", "cli", "workers", "grid", "gateway")


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    """JSON lines of every record into a buffer; the root logger restored after."""
    root = logging.getLogger()
    level = root.level
    out = io.StringIO()
    handler = logs.configure(LogSettings(format="json"), "worker", stream=out)
    try:
        yield out, logs.get_logger("workers.tasks")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_carries_the_context_it_was_logged_in(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    log.info("outside")
    with logs.log_context(run_id="r1", worker="w@h:1"):
        with logs.log_context(case_id="r1-0001"):
            log.info("case %s began", "r1-0001")
        log.warning("after the case", extra={"event": "test_failed"})
    outside, inside, after = lines(out)
    assert outside["message"] == "outside"
    assert "runId" not in outside
    assert inside["message"] == "case r1-0001 began"
    assert (inside["runId"], inside["caseId"], inside["worker"]) == ("r1", "r1-0001", "w@h:1")
    assert (inside["level"], inside["logger"], inside["component"]) == (
        "INFO",
        "testfleet.workers.tasks",
        "worker",
    )
    assert inside["ts"].endswith("Z")
    assert (after["runId"], after["event"], after["level"]) == ("r1", "test_failed", "WARNING")
    assert "caseId" not in after


def test_secrets_are_masked_in_messages_and_tracebacks(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, log = captured
    api_key = "tfk_0123abcd_" + "s" * 32
    with logs.log_context(run_id="r1", mask=Masker(["hunter2-password"])):
        log.info("GET /ws/events/r1?token=%s&batch_size=5 (typed hunter2-password)", api_key)
        log.info("Authorization: Bearer %s; redis://:pa55word@redis:6379/0", api_key)
        try:
            raise RuntimeError(f"OPENAI key sk-{'x' * 40} refused")
        except RuntimeError:
            log.exception("the model failed")
    log.info("outside the case: hunter2-password is not known here")
    text = out.getvalue()
    for secret in ("s" * 32, 'hunter2-password"', "pa55word", "x" * 40):
        assert secret not in text.split("outside the case")[0], secret
    first, second, third, fourth = lines(out)
    assert first["message"] == "GET /ws/events/r1?token=***&batch_size=5 (typed ***)"
    assert second["message"] == "Authorization: Bearer ***; redis://:***@redis:6379/0"
    assert "sk-***" in third["exc"]
    assert "RuntimeError" in third["exc"]
    assert "tfk_0123abcd_***" in logs.mask_secrets(f"key {api_key}"), "the key id stays"
    assert "hunter2-password" in fourth["message"], "a case's secrets are its own context's"


def test_text_on_a_terminal_json_elsewhere() -> None:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal:
        assert not logs.wants_json(LogSettings(), terminal), "a terminal: text"
        assert logs.wants_json(LogSettings(format="json"), terminal)
    os.close(leader)
    assert logs.wants_json(LogSettings(), io.StringIO()), "no terminal: JSON"
    assert not logs.wants_json(LogSettings(format="text"), io.StringIO())
    out = io.StringIO()
    root = logging.getLogger()
    handler = logs.configure(LogSettings(format="text", level="debug"), "api", stream=out)
    try:
        assert root.level == logging.DEBUG
        with logs.log_context(run_id="r9"):
            logs.get_logger("api.app").debug("hello")
    finally:
        root.removeHandler(handler)
        root.setLevel(logging.WARNING)
    assert out.getvalue().rstrip().endswith("DEBUG testfleet.api.app: hello [runId=r9]")


def test_configure_twice_replaces_its_own_handler_only() -> None:
    root = logging.getLogger()
    other = logging.NullHandler()
    root.addHandler(other)
    try:
        first = logs.configure(LogSettings(format="json"), "cli", stream=io.StringIO())
        second = logs.configure(LogSettings(format="json"), "cli", stream=io.StringIO())
        assert first not in root.handlers
        assert second in root.handlers
        assert other in root.handlers
    finally:
        root.removeHandler(other)
        root.removeHandler(second)


def test_the_settings_say_what_is_wrong() -> None:
    assert Settings(log={"level": "debug"}).log.level == "DEBUG"
    with pytest.raises(ValidationError, match=r"log\.level"):
        Settings(log={"level": "loud"})
    with pytest.raises(ValidationError, match=r"log\.format"):
        Settings(log={"format": "xml"})


@pytest.mark.parametrize(
    ("path", "query", "run_id"),
    [
        ("/api/v1/runs/20261122-020000-a1b2c3", "", "20261122-020000-a1b2c3"),
        ("/api/v1/runs/r1/artifacts/shot.png", "", "r1"),
        ("/ws/events/r2", "token=x", "r2"),
        ("/sse/events", "token=x&runId=r3", "r3"),
        ("/sse/events", "run_id=r4", "r4"),
        ("/api/v1/runs", "limit=5", None),
        ("/ws/v1", "", None),
    ],
)
def test_requests_about_one_run_are_recognised(path: str, query: str, run_id: str | None) -> None:
    assert logs.run_id_of(path, query) == run_id


def test_every_logger_of_the_product_is_under_testfleet() -> None:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            loaded = importlib.import_module(info.name)
            for value in vars(loaded).values():
                if isinstance(value, logging.Logger):
                    names.append((info.name, value.name))
    assert len(names) >= 15, names
    assert [n for n in names if not n[1].startswith("testfleet.")] == []


def test_celerys_own_lines_about_a_case_get_its_run_and_case_ids(
    captured: tuple[io.StringIO, logging.Logger],
) -> None:
    out, _ = captured
    ours_only = [h for h in logging.getLogger().handlers if h.get_name() == "testfleet"]
    ours_only[0].addFilter(TaskLogFields())
    celery = logging.getLogger("celery.worker.strategy")
    data = {"id": "r1-0001", "name": RUN_CASE_TASK, "args": "('r1', 'r1-0001')"}
    celery.info("Task %(name)s[%(id)s] received", data, extra={"data": data})
    other = {"id": "x", "name": "other.task", "args": "('a', 'b')"}
    celery.info("Task %(name)s[%(id)s] received", other, extra={"data": other})
    odd = {"id": "y", "name": RUN_CASE_TASK, "args": "<unprintable>"}
    celery.info("Task %(name)s[%(id)s] received", odd, extra={"data": odd})
    ours, theirs, unreadable = lines(out)
    assert (ours["runId"], ours["caseId"]) == ("r1", "r1-0001")
    assert ours["message"] == f"Task {RUN_CASE_TASK}[r1-0001] received"
    assert "runId" not in theirs
    assert "runId" not in unreadable
