"""Logging for every entry point: one configuration, JSON lines or text, with run context.

Each entry point (``testfleet api``, ``gateway``, ``worker``, ``grid`` and the CLI)
calls ``configure`` once with its settings. From then on:

- every record goes to stderr, one JSON object per line (``TESTFLEET_LOG__FORMAT=json``;
  the default when stderr is not a terminal: containers, ``testfleet up``'s log
  files) or as text (``text``; the default on a terminal). A JSON line holds ``ts``
  (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``component``, ``pid`` and,
  where they apply, ``runId``, ``caseId``, ``worker``, ``event`` and ``exc``;
- the context fields come from ``log_context(...)`` (contextvars: they follow a
  request, a task, a thread pool call) or from one call's ``extra={"run_id": ...}``;
  ``RunLogContext`` sets ``runId`` for every request about one run;
- secrets are masked in messages and tracebacks: API keys (their id is kept),
  bearer tokens, ``token=`` / ``key=`` query values, passwords in URLs, OpenAI keys,
  and the running case's own ``secret: true`` values (``log_context(mask=...)``);
- testfleet's loggers are all named under ``testfleet.`` (``get_logger(__name__)``),
  so a level set on ``testfleet`` reaches every component.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from testfleet.settings import LogSettings

ROOT_LOGGER = "testfleet"
"""Every testfleet logger is under this one."""

_HANDLER_NAME = "testfleet"
_FIELDS: tuple[tuple[str, str], ...] = (
    ("run_id", "runId"),
    ("case_id", "caseId"),
    ("worker", "worker"),
    ("event", "event"),
)
"""(record attribute / ``log_context`` keyword, JSON key)."""

_context: ContextVar[dict[str, str] | None] = ContextVar("testfleet_log_context", default=None)
_mask: ContextVar[Callable[[str], str] | None] = ContextVar("testfleet_log_mask", default=None)

_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(tfk_[0-9a-f]{8,16}_)[A-Za-z0-9_-]+"), r"\1***"),
    (re.compile(r"\b(tft_)[A-Za-z0-9_-]+"), r"\1***"),  # stream tickets
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), r"\1***"),
    (re.compile(r"(?i)([?&](?:token|ticket|api_?key|key)=)[^&\s\"']+"), r"\1***"),
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "sk-***"),
)
"""Secrets of any process, whatever their context: (pattern, replacement)."""


def get_logger(name: str) -> logging.Logger:
    """The logger of module ``name``, under ``testfleet.`` (``workers.tasks`` ->
    ``testfleet.workers.tasks``; ``testfleet.ai.model`` stays as it is)."""
    if name != ROOT_LOGGER and not name.startswith(ROOT_LOGGER + "."):
        name = f"{ROOT_LOGGER}.{name}"
    return logging.getLogger(name)


@contextmanager
def log_context(
    *,
    run_id: str | None = None,
    case_id: str | None = None,
    worker: str | None = None,
    event: str | None = None,
    mask: Callable[[str], str] | None = None,
) -> Iterator[None]:
    """Records logged inside carry these fields (added to the enclosing context's);
    ``mask`` also masks the values it knows (a case's secrets) in them."""
    given = {"run_id": run_id, "case_id": case_id, "worker": worker, "event": event}
    fields = {**(_context.get() or {}), **{k: v for k, v in given.items() if v is not None}}
    token = _context.set(fields)
    mask_token = _mask.set(mask) if mask is not None else None
    try:
        yield
    finally:
        if mask_token is not None:
            _mask.reset(mask_token)
        _context.reset(token)


def mask_secrets(text: str) -> str:
    """``text`` with every secret this process can recognise replaced by ``***``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    case_mask = _mask.get()
    return case_mask(text) if case_mask is not None else text


def context_fields(record: logging.LogRecord) -> dict[str, str]:
    """The context fields of ``record`` by JSON key: its ``extra`` first, then the
    ``log_context`` it was logged in."""
    context = _context.get() or {}
    fields: dict[str, str] = {}
    for attribute, key in _FIELDS:
        value = getattr(record, attribute, None) or context.get(attribute)
        if value:
            fields[key] = str(value)
    return fields


class _Formatter(logging.Formatter):
    """One record as one JSON line or one line of text (plus its traceback), masked."""

    def __init__(self, component: str, json_lines: bool) -> None:
        super().__init__()
        self.component = component
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        message = mask_secrets(record.getMessage())
        exc = None
        if record.exc_info:
            exc = mask_secrets(self.formatException(record.exc_info))
        elif record.exc_text:
            exc = mask_secrets(record.exc_text)
        fields = context_fields(record)
        moment = datetime.fromtimestamp(record.created, UTC)
        if self.json_lines:
            line: dict[str, Any] = {
                "ts": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname,
                "logger": record.name,
                "message": message,
                "component": self.component,
                "pid": record.process,
                **fields,
            }
            if exc:
                line["exc"] = exc
            return json.dumps(line, ensure_ascii=False, default=str)
        context = " ".join(f"{k}={v}" for k, v in fields.items())
        text = f"{moment:%Y-%m-%d %H:%M:%S} {record.levelname} {record.name}: {message}"
        text += f" [{context}]" if context else ""
        return f"{text}\n{exc}" if exc else text


def wants_json(settings: LogSettings, stream: TextIO) -> bool:
    """Whether ``settings`` asks for JSON lines on ``stream`` (``auto``: unless a terminal)."""
    if settings.format != "auto":
        return settings.format == "json"
    try:
        return not os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return True


def configure(
    settings: LogSettings, component: str, default_level: str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Send every record of this process to ``stream`` (stderr) in ``settings``' format.

    ``component`` names the process in JSON lines (``api``, ``worker``, ...);
    ``default_level`` applies unless ``settings.level`` is set. Calling it again
    replaces the handler it installed (and no other). Returns that handler.
    """
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_Formatter(component, wants_json(settings, out)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level or default_level)
    return handler


# --- requests about one run ----------------------------------------------------------------

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

_RUN_IN_PATH = re.compile(r"/(?:runs|ws/events)/([A-Za-z0-9][A-Za-z0-9._-]{0,199})(?:/|$)")
_RUN_IN_QUERY = re.compile(r"(?:^|&)run_?[iI]d=([A-Za-z0-9][A-Za-z0-9._-]{0,199})(?:&|$)")


def run_id_of(path: str, query: str = "") -> str | None:
    """The run a request is about: ``.../runs/ID...``, ``/ws/events/ID`` or ``?runId=ID``."""
    found = _RUN_IN_PATH.search(path) or _RUN_IN_QUERY.search(query)
    return found.group(1) if found else None


class RunLogContext:
    """ASGI middleware: what is logged while serving a request about one run (the
    app's own lines and the server's access line) carries its ``runId``."""

    def __init__(self, app: _App) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        run_id = None
        if scope["type"] in ("http", "websocket"):
            query = scope.get("query_string", b"").decode("latin-1")
            run_id = run_id_of(scope.get("path", ""), query)
        if run_id is None:
            await self.app(scope, receive, send)
            return
        with log_context(run_id=run_id):
            await self.app(scope, receive, send)
