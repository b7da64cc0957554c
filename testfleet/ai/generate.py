"""AI test generation: requirements in, a validated suite (YAML) out.

The model answers one test case in the canonical form (``TEST_CASE_SCHEMA``);
it is wrapped in a suite (``--url`` as ``base_url``) and validated by the same
loader every suite goes through. An invalid answer is sent back once with the
validation problems so the model can correct it; a second invalid answer is an
``AiError`` that lists the problems. What ``generate_suite`` returns always
loads and runs with ``testfleet run``.

``testfleet generate`` calls the model from the CLI's own process (it needs
``OPENAI_API_KEY`` there); ``POST /api/v1/generate`` (``api.routes.generate``) from
the API's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from testfleet.ai.model import AiModel, Usage
from testfleet.errors import AiError, SuiteError, UsageError
from testfleet.settings import Settings
from testfleet.suites.loader import load_document
from testfleet.suites.model import Suite

MAX_FIXES = 1
"""Times an invalid answer is sent back with its problems before giving up."""


@dataclass(frozen=True)
class Generated:
    """A generated suite, its YAML, and what it took."""

    suite: Suite
    yaml: str
    attempts: int
    usage: Usage
    problems: list[str]
    """Problems of the rejected answers (empty when the first was valid)."""


def _drop_nulls(value: Any) -> Any:
    # Strict schemas make optional fields null; the suite model wants them absent.
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def suite_document(case: dict[str, Any], url: str | None) -> dict[str, Any]:
    """A suite around one generated test case."""
    name = str(case.get("name") or "generated")
    document: dict[str, Any] = {"name": f"Generated: {name}", "tests": [_drop_nulls(case)]}
    if url:
        document["base_url"] = url
    return document


def to_yaml(suite: Suite) -> str:
    data = suite.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def generate_suite(
    settings: Settings, requirements: str, url: str | None, model: AiModel | None = None
) -> Generated:
    """Ask the model for a test case and validate it (one corrected retry); raises
    ``UsageError`` without an API key or requirements, ``AiError`` when it stays invalid."""
    if not requirements.strip():
        raise UsageError('say what to test: testfleet generate "user can log in" --url URL')
    if url is not None and not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must start with http:// or https://, got {url!r}")
    model = model or AiModel(settings)
    usage = Usage()
    feedback: list[str] = []
    rejected: list[str] = []
    for attempt in range(1, MAX_FIXES + 2):
        answer = model.generate_case(requirements, url, feedback)
        usage = usage + answer.usage
        try:
            suite = load_document(suite_document(answer.data, url), {}, "generated test case")
        except SuiteError as exc:
            feedback = [re.sub(r"^generated test case: tests\[0\]\.?", "", p) for p in exc.problems]
            rejected += feedback
            continue
        return Generated(suite, to_yaml(suite), attempt, usage, rejected)
    raise AiError(
        f"the model's test case was still invalid after {MAX_FIXES} correction(s): "
        + "; ".join(feedback)
        + " (rephrase the requirements more concretely, or try a stronger TESTFLEET_AI__MODEL)"
    )
