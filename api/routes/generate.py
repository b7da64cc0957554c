"""``POST /api/v1/generate``: a validated test suite from plain requirements.

Included by ``api.app.create_app``; needs the ``test:write`` scope
(``api_auth.WriteKey``).
The model is called from the API process, so the API needs ``OPENAI_API_KEY``
(and ``OPENAI_BASE_URL`` for another OpenAI-compatible server); without it the
answer is 503 saying so.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import WriteKey
from api.errors import ErrorBody
from api.services import services
from testfleet.ai.generate import generate_suite
from testfleet.ai.model import has_key
from testfleet.constants import API_PREFIX
from testfleet.errors import InfrastructureError

router = APIRouter(
    prefix=API_PREFIX,
    tags=["generate"],
    responses={status: {"model": ErrorBody} for status in (400, 401, 403, 429, 503)},
)


class GenerateRequest(BaseModel):
    requirements: str = Field(min_length=1, max_length=20_000)
    """What the test should check, in plain words."""
    url: str | None = None
    """Base URL of the application under test (becomes the suite's ``base_url``)."""


class GenerateResponse(BaseModel):
    suite: dict[str, Any]
    """The suite in canonical form (submit it to ``POST /runs`` as is)."""
    yaml: str
    """The same suite as YAML (what ``testfleet generate`` writes)."""
    attempts: int
    """Model answers it took (2 when the first was invalid and corrected)."""
    problems: list[str]
    """Validation problems of a rejected first answer, if any."""
    inputTokens: int
    outputTokens: int


@router.post("/generate")
async def generate(request: Request, body: GenerateRequest, key: WriteKey) -> GenerateResponse:
    """Ask the AI model for a test case from requirements; it is validated before it is
    returned. 503 when the server has no OpenAI key or the model keeps failing; 429 past
    the project's generations per minute or daily token budget (``TESTFLEET_LIMITS__``)."""
    svc = services(request)
    settings = svc.settings
    if not has_key(settings):
        raise InfrastructureError(
            "this API server has no OPENAI_API_KEY: set OPENAI_API_KEY (and OPENAI_BASE_URL for "
            "an OpenAI-compatible server) in the API's environment, or run `testfleet generate` "
            "locally with your own key"
        )
    # Counted before the call (a failing model still costs), charged after it.
    await run_in_threadpool(svc.quotas.check_generate, key)
    work = partial(generate_suite, settings, body.requirements, body.url)
    result = await asyncio.get_running_loop().run_in_executor(svc.generator, work)
    used = result.usage.input_tokens + result.usage.output_tokens
    await run_in_threadpool(svc.quotas.spent_generate, key, used)
    return GenerateResponse(
        suite=result.suite.model_dump(mode="json", exclude_none=True),
        yaml=result.yaml,
        attempts=result.attempts,
        problems=result.problems,
        inputTokens=result.usage.input_tokens,
        outputTokens=result.usage.output_tokens,
    )
