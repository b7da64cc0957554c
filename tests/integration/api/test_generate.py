"""``testfleet generate`` and ``POST /api/v1/generate`` against the fake OpenAI server."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
import yaml

from api.app import create_app
from testfleet.fleet.auth import KeyStore
from testfleet.settings import ApiSettings, PathSettings, RedisSettings, Settings
from testfleet.suites.loader import load_paths
from tests.conftest import cli
from tests.fake_openai import USAGE, VALID_CASE, FakeOpenAI, Reply, fake_openai
from tests.fixtures_redis_api import serving
from tests.ports import held_port

pytestmark = pytest.mark.redis

REQUIREMENTS = "the home page shows a heading"


def invalid_case() -> dict[str, Any]:
    """A click without a selector: the suite model rejects it."""
    case = copy.deepcopy(VALID_CASE)
    case["steps"][1] = {
        **case["steps"][1],
        "step_type": "click",
        "selector": None,
        "assertion": None,
    }
    return case


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai() as server:
        yield server


def env_for(fake: FakeOpenAI, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESTFLEET_", "OPENAI_"))}
    return {
        **env,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.base_url,
        "TESTFLEET_AI__BACKOFF_BASE_S": "0.01",
        "TESTFLEET_PATHS__STATE_DIR": str(tmp_path / "state"),
    }


def test_cli_writes_a_suite_that_validates(fake: FakeOpenAI, tmp_path: Path) -> None:
    out = tmp_path / "gen.yaml"
    options = ["--url", "http://127.0.0.1:9", "-o", str(out)]
    done = cli("generate", REQUIREMENTS, *options, env=env_for(fake, tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    [sent] = fake.chat_requests()
    assert sent.schema_name == "test_case"
    assert REQUIREMENTS in sent.body["messages"][1]["content"]
    assert "http://127.0.0.1:9" in sent.body["messages"][1]["content"]
    data = yaml.safe_load(out.read_text())
    assert data["base_url"] == "http://127.0.0.1:9"
    assert data["tests"][0]["steps"][1]["assertion"] == "visible"
    assert "selector" not in data["tests"][0]["steps"][0]  # nulls are dropped
    [suite] = load_paths([out], {})
    assert suite.tests[0].name == VALID_CASE["name"]
    assert cli("validate", str(out), env=env_for(fake, tmp_path)).returncode == 0


def test_invalid_answer_is_sent_back_with_its_problems(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.then(Reply(content=invalid_case()))
    out = tmp_path / "gen.yaml"
    done = cli("generate", REQUIREMENTS, "-o", str(out), env=env_for(fake, tmp_path))
    assert done.returncode == 0, done.stderr
    assert "corrected once" in done.stdout
    first, second = fake.chat_requests()
    assert len(first.body["messages"]) == 2
    feedback = second.body["messages"][-1]["content"]
    assert "previous test case was invalid" in feedback
    assert "steps[1].selector is required" in feedback or "selector is required" in feedback
    assert out.exists()


def test_invalid_twice_is_a_clear_error(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.then(Reply(content=invalid_case()), Reply(content=invalid_case()))
    out = tmp_path / "gen.yaml"
    done = cli("generate", REQUIREMENTS, "-o", str(out), env=env_for(fake, tmp_path))
    assert done.returncode == 2
    assert "still invalid after 1 correction" in done.stderr
    assert "selector is required" in done.stderr
    assert not out.exists()


def test_model_down_is_a_clear_error(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.fail(503, times=10)
    env = {**env_for(fake, tmp_path), "TESTFLEET_AI__MAX_ATTEMPTS": "2"}
    done = cli("generate", REQUIREMENTS, "-o", str(tmp_path / "g.yaml"), env=env)
    assert done.returncode == 2
    assert "kept failing (HTTP 503) after 2 attempts" in done.stderr
    assert len(fake.chat_requests()) == 2


def test_cli_without_a_key_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESTFLEET_", "OPENAI_"))}
    env["TESTFLEET_PATHS__STATE_DIR"] = str(tmp_path)
    done = cli("generate", REQUIREMENTS, "-o", str(tmp_path / "g.yaml"), env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "OPENAI_API_KEY" in done.stderr


# --- the API --------------------------------------------------------------------------------


def serve(settings: Settings) -> Any:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.api.port, log_level="warning"
    )
    return serving(uvicorn.Server(config))


def api_settings(redis_url: str, tmp_path: Path, fake: FakeOpenAI | None) -> Settings:
    s = Settings(
        redis=RedisSettings(url=redis_url),
        api=ApiSettings(port=held_port()),
        paths=PathSettings(state_dir=tmp_path),
        OPENAI_API_KEY="sk-test" if fake else None,
        OPENAI_BASE_URL=fake.base_url if fake else None,
    )
    s.ai = s.ai.model_copy(update={"backoff_base_s": 0.01})
    return s


def keys_for(redis_url: str) -> tuple[str, str]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = KeyStore(client)
        return store.create("p", ["test:write", "test:read"])[1], store.create("p", ["test:read"])[
            1
        ]
    finally:
        client.close()


def test_api_generates_with_a_write_key(redis_url: str, fake: FakeOpenAI, tmp_path: Path) -> None:
    writer, reader = keys_for(redis_url)
    fake.then(Reply(content=invalid_case()))
    settings = api_settings(redis_url, tmp_path, fake)
    with serve(settings), httpx.Client(base_url=settings.api_url, timeout=60) as http:
        body = {"requirements": REQUIREMENTS, "url": "http://127.0.0.1:9"}
        answer = http.post("/api/v1/generate", json=body, headers={"X-API-Key": writer})
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert data["attempts"] == 2
        assert any("selector is required" in p for p in data["problems"])
        assert data["suite"]["base_url"] == "http://127.0.0.1:9"
        assert yaml.safe_load(data["yaml"])["tests"][0]["name"] == VALID_CASE["name"]
        assert data["inputTokens"] == 1800
        denied = http.post("/api/v1/generate", json=body, headers={"X-API-Key": reader})
        assert denied.status_code == 403
        assert "test:write" in denied.json()["error"]["message"]
        assert http.post("/api/v1/generate", json=body).status_code == 401
        empty = http.post(
            "/api/v1/generate", json={"requirements": ""}, headers={"X-API-Key": writer}
        )
        assert empty.status_code == 422


def test_api_without_a_key_says_what_to_set(redis_url: str, tmp_path: Path) -> None:
    writer, _ = keys_for(redis_url)
    settings = api_settings(redis_url, tmp_path, None)
    with serve(settings), httpx.Client(base_url=settings.api_url, timeout=60) as http:
        answer = http.post(
            "/api/v1/generate", json={"requirements": REQUIREMENTS}, headers={"X-API-Key": writer}
        )
    assert answer.status_code == 503
    assert "OPENAI_API_KEY" in answer.json()["error"]["message"]


def test_generation_counts_against_the_projects_budget_and_rate(
    redis_url: str, fake: FakeOpenAI, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    writer = KeyStore(client).create("budgeted", ["test:write"])[1]
    client.close()
    settings = api_settings(redis_url, tmp_path, fake)
    per_call = USAGE["prompt_tokens"] + USAGE["completion_tokens"]
    settings.limits = settings.limits.model_copy(
        update={"generate_budget_tokens_per_day": 2 * per_call - 1, "generate_per_minute": 5}
    )
    body = {"requirements": REQUIREMENTS, "url": "http://127.0.0.1:9"}
    with serve(settings), httpx.Client(base_url=settings.api_url, timeout=60) as http:
        answers = [
            http.post("/api/v1/generate", json=body, headers={"X-API-Key": writer})
            for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429], answers[-1].text
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) > 0
    message = refused.json()["error"]["message"]
    assert "generation budget" in message
    assert "TESTFLEET_LIMITS__GENERATE_BUDGET_TOKENS_PER_DAY" in message
    calls = len(fake.requests)

    settings.limits = settings.limits.model_copy(
        update={"generate_budget_tokens_per_day": 0, "generate_per_minute": 1}
    )
    with serve(settings), httpx.Client(base_url=settings.api_url, timeout=60) as http:
        # At most one window boundary falls between the two: one of them is over the rate.
        answers = [
            http.post("/api/v1/generate", json=body, headers={"X-API-Key": writer})
            for _ in range(2)
        ]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.text for a in answers]
    assert "TESTFLEET_LIMITS__GENERATE_PER_MINUTE" in limited[0].json()["error"]["message"]
    assert len(fake.requests) <= calls + 1, "refused requests never reach the model"
