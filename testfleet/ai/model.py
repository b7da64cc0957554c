"""The one adapter around the official ``openai`` SDK, for analysis and generation.

``AiModel`` sends chat completions with a strict JSON-schema ``response_format``
to ``settings.ai.model`` at ``settings.openai_base_url`` (any OpenAI-compatible
server). The SDK's own retries are off (``max_retries=0``): here, 429, 5xx,
timeouts and connection errors are retried up to ``ai.max_attempts`` requests,
waiting what the server's ``retry-after-ms`` / ``Retry-After`` says, else
``ai.backoff_base_s`` doubling with jitter (``testfleet.backoff``), never more
than ``ai.backoff_max_s``. Every openai exception is translated here into
``AiError`` (or ``UsageError`` for a missing key), with a message that says what
to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from testfleet import logs
from testfleet.ai.image import PreparedImage
from testfleet.ai.prompts import (
    TEST_CASE_SCHEMA,
    VISUAL_DIFF_SCHEMA,
    analysis_messages,
    analysis_schema,
    diff_messages,
    generate_messages,
)
from testfleet.backoff import Backoff, retry_after_s
from testfleet.constants import AI_NO_KEY
from testfleet.errors import AiError, UsageError
from testfleet.settings import Settings
from testfleet.suites.model import AnalysisType

log = logs.get_logger(__name__)

NO_KEY = AI_NO_KEY


RetryHook = Callable[[int, float, str], None]
"""``(attempt that failed, wait before the next in s, why)``."""


@dataclass(frozen=True)
class Usage:
    """Tokens one answer cost, from the response's ``usage``."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )


@dataclass(frozen=True)
class Answer:
    """A structured answer: the parsed JSON object and what it cost."""

    data: dict[str, Any]
    usage: Usage
    model: str


def cost_usd(settings: Settings, model: str, usage: Usage) -> float:
    """Estimated cost of ``usage`` on ``model`` from the prices in settings."""
    prices = settings.ai.prices_usd_per_mtok
    price_in, price_out = prices.get(model, settings.ai.default_price_usd_per_mtok)
    return (usage.input_tokens * price_in + usage.output_tokens * price_out) / 1_000_000


def has_key(settings: Settings) -> bool:
    return bool(settings.openai_api_key)


class AiModel:
    """Structured chat completions with bounded retries (thread-safe, like the SDK client)."""

    def __init__(
        self,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.openai_api_key:
            raise UsageError(NO_KEY)
        self.settings = settings
        self.model = settings.ai.model
        self._sleep = sleep
        self._client = openai.OpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.ai.request_timeout_s,
            max_retries=0,
        )

    def close(self) -> None:
        self._client.close()

    def analyze(
        self,
        image: PreparedImage,
        analysis_type: AnalysisType,
        context: str,
        on_retry: RetryHook | None = None,
        evidence: str | None = None,
    ) -> Answer:
        """The model's analysis of one prepared screenshot (``analysis_schema``);
        ``evidence``: the browser's evidence of a failure, as ``testfleet.ai.evidence``
        shows it."""
        messages = analysis_messages(analysis_type, context, image.data_url, image.detail, evidence)
        schema = analysis_schema(analysis_type)
        return self.complete(messages, "screenshot_analysis", schema, on_retry)

    def explain_diff(
        self, images: list[PreparedImage], context: str, on_retry: RetryHook | None = None
    ) -> Answer:
        """Why a screenshot differs from its baseline (``VISUAL_DIFF_SCHEMA``): ``images``
        are the baseline, the actual screenshot and the diff, in that order."""
        detail = images[0].detail if images else "high"
        messages = diff_messages(context, [i.data_url for i in images], detail)
        return self.complete(messages, "visual_diff", VISUAL_DIFF_SCHEMA, on_retry)

    def generate_case(self, requirements: str, url: str | None, feedback: list[str]) -> Answer:
        """One test case in canonical form (``TEST_CASE_SCHEMA``)."""
        messages = generate_messages(requirements, url, feedback)
        return self.complete(messages, "test_case", TEST_CASE_SCHEMA)

    def complete(
        self,
        messages: list[dict[str, Any]],
        name: str,
        schema: dict[str, Any],
        on_retry: RetryHook | None = None,
    ) -> Answer:
        """One structured completion, retried on 429 / 5xx / timeouts; raises ``AiError``.

        ``on_retry(attempt, wait_s, why)`` is called before each retry."""
        attempts = self.settings.ai.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    response_format=cast(
                        "ResponseFormatJSONSchema",
                        {
                            "type": "json_schema",
                            "json_schema": {"name": name, "schema": schema, "strict": True},
                        },
                    ),
                )
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                why = f"HTTP {exc.status_code}"
                wait_s = self._wait_s(attempt, exc.response.headers)
            except openai.APIStatusError as exc:
                if exc.status_code < 500:
                    raise self._fatal(exc) from exc
                why = f"HTTP {exc.status_code}"
                wait_s = self._wait_s(attempt, exc.response.headers)
            except openai.APIConnectionError as exc:  # timeouts included
                why = f"{type(exc).__name__}: {exc}"
                wait_s = self._wait_s(attempt, None)
            except openai.OpenAIError as exc:
                raise AiError(f"the AI model request failed: {exc}") from exc
            else:
                return self._parse(response)
            if attempt == attempts:
                raise AiError(
                    f"the AI model at {self._where()} kept failing ({why}) after {attempts} "
                    "attempts; try again later or raise TESTFLEET_AI__MAX_ATTEMPTS"
                )
            log.info("AI request failed (%s); retry %d in %.2f s", why, attempt, wait_s)
            if on_retry is not None:
                on_retry(attempt, wait_s, why)
            self._sleep(wait_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def _where(self) -> str:
        return self.settings.openai_base_url or "api.openai.com"

    def _wait_s(self, attempt: int, headers: Mapping[str, str] | None) -> float:
        ai = self.settings.ai
        backoff = Backoff(first_s=ai.backoff_base_s, max_s=ai.backoff_max_s)
        return backoff.delay_s(attempt, retry_after_s(headers))

    def _fatal(self, exc: openai.APIStatusError) -> AiError | UsageError:
        detail = _error_message(exc)
        if exc.status_code in (401, 403):
            return UsageError(
                f"the AI model at {self._where()} refused the API key (HTTP {exc.status_code}: "
                f"{detail}); check OPENAI_API_KEY"
            )
        if exc.status_code == 404:
            return AiError(
                f"the AI model {self.model!r} was not found at {self._where()} ({detail}); "
                "set TESTFLEET_AI__MODEL to one it serves"
            )
        return AiError(
            f"the AI model at {self._where()} rejected the request (HTTP {exc.status_code}: "
            f"{detail})"
        )

    def _parse(self, response: Any) -> Answer:
        usage = response.usage
        spent = Usage(
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
        )
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice is not None else None
        if message is not None and getattr(message, "refusal", None):
            raise AiError(f"the AI model refused: {message.refusal}")
        content = message.content if message is not None else None
        try:
            data = json.loads(content or "")
        except json.JSONDecodeError as exc:
            raise AiError(
                f"the AI model did not answer with JSON ({exc}): {content!r:.200}"
            ) from exc
        if not isinstance(data, dict):
            raise AiError(f"the AI model answered {type(data).__name__}, not a JSON object")
        return Answer(data=data, usage=spent, model=str(response.model or self.model))


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(exc.message)
