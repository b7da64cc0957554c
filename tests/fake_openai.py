"""A small OpenAI-compatible server for tests: the real ``openai`` SDK talks to it.

``FakeOpenAI`` serves ``POST /v1/chat/completions`` on a free port (threaded
stdlib ``http.server``), records every request (headers and JSON body), and
answers with the next scripted reply, else a default one built for the
request's ``response_format`` schema name. Scripted failures: ``fail(429,
retry_after="0")`` or ``fail(500)``. Usage numbers come with every answer.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_ANALYSIS: dict[str, Any] = {
    "summary": "A login form with a visible error banner.",
    "issues": [
        {"severity": "high", "description": "Error banner overlaps the form", "location": "#msg"}
    ],
    "recommendations": [
        {"title": "Wait for the banner", "confidence": 0.8, "implementation": "add a wait step"}
    ],
    "scores": [{"name": "usability", "value": 70}],
}

DEFAULT_DIFF: dict[str, Any] = {
    "summary": "The banner's greeting changed from Alice to Bob.",
    "changes": [
        {
            "kind": "text",
            "description": "'Welcome back, Alice' became 'Welcome back, Bob'",
            "location": "the blue banner under the title",
        }
    ],
    "verdict": "regression",
    "cosmetic": False,
    "confidence": 0.7,
}
"""The answer to a ``visual_diff`` request (schema name) unless a test scripts another."""

VALID_CASE: dict[str, Any] = {
    "name": "home page shows a title",
    "description": "generated",
    "category": "smoke",
    "priority": "high",
    "tags": ["generated"],
    "steps": [
        {
            "order_index": 1,
            "name": "open",
            "step_type": "navigate",
            "selector": None,
            "input_data": "/",
            "expected_result": None,
            "assertion": None,
            "attribute": None,
            "timeout_seconds": None,
        },
        {
            "order_index": 2,
            "name": None,
            "step_type": "assert",
            "selector": "h1",
            "input_data": None,
            "expected_result": None,
            "assertion": "visible",
            "attribute": None,
            "timeout_seconds": None,
        },
    ],
}

USAGE = {"prompt_tokens": 900, "completion_tokens": 100, "total_tokens": 1000}


@dataclass
class Reply:
    status: int = 200
    content: dict[str, Any] | str | None = None
    """The assistant message's JSON (or raw text); None = the default for the schema."""
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=lambda: dict(USAGE))
    hold: threading.Event | None = None
    """When set, the answer waits until this event is set (a slow model, under test control)."""


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def schema_name(self) -> str:
        return str(self.body.get("response_format", {}).get("json_schema", {}).get("name"))

    @property
    def system_prompt(self) -> str:
        return str(self.body["messages"][0]["content"])

    def image_parts(self) -> list[dict[str, Any]]:
        parts = []
        for message in self.body["messages"]:
            content = message.get("content")
            if isinstance(content, list):
                parts += [p for p in content if p.get("type") == "image_url"]
        return parts

    def image_bytes(self, index: int = 0) -> bytes:
        """The ``index``-th image's decoded bytes (from its data URL)."""
        url = self.image_parts()[index]["image_url"]["url"]
        assert url.startswith("data:image/"), url[:40]
        return base64.b64decode(url.split(",", 1)[1])


class FakeOpenAI:
    """The server; ``base_url`` is what ``OPENAI_BASE_URL`` should be."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[Reply] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorded = Recorded(self.path, headers, body)
                with fake.lock:
                    fake.requests.append(recorded)
                    reply = fake.script.pop(0) if fake.script else Reply()
                if self.path.rstrip("/") != "/v1/chat/completions":
                    reply = Reply(status=404, content={"error": {"message": "no such path"}})
                if reply.hold is not None:
                    reply.hold.wait(60)
                self._answer(reply, recorded)

            def _answer(self, reply: Reply, recorded: Recorded) -> None:
                if reply.status != 200:
                    payload: dict[str, Any] = {
                        "error": {"message": f"fake error {reply.status}", "type": "fake"}
                    }
                else:
                    content = reply.content
                    if content is None:
                        content = {"test_case": VALID_CASE, "visual_diff": DEFAULT_DIFF}.get(
                            recorded.schema_name, DEFAULT_ANALYSIS
                        )
                    text = content if isinstance(content, str) else json.dumps(content)
                    payload = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": 1,
                        "model": recorded.body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                        "usage": reply.usage,
                    }
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def then(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self.lock:
            self.script += replies

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        self.then(*[Reply(status=status, headers=headers) for _ in range(times)])

    def chat_requests(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()
