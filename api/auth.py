"""The API key dependency: every ``/api/v1`` route declares the scope it needs.

Keys, projects and scopes are the gateway's (``testfleet.fleet.auth.KeyStore``):
``test:read`` to read runs, ``test:write`` to submit and cancel (and generate),
``dashboard:read`` for ``/fleet``, ``quarantine:write`` to put tests in quarantine and
take them out (reading it, and history, is ``test:read``), ``metrics:read`` for ``/metrics`` (the
fleet-wide figures, not under ``/api/v1`` but guarded alike); ``admin`` implies
all. No key, or an unknown one, is 401; a valid key without the scope is 403
naming the scope.

A router elsewhere (``routes_generate``) uses it as::

    from api.auth import WriteKey

    @router.post("/generate")
    def generate(key: WriteKey) -> ...: ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from api.services import services
from testfleet.errors import ForbiddenError
from testfleet.fleet.auth import METRICS_SCOPE, ApiKey, presented_key

# Declared only so the OpenAPI shows both ways to send a key (auto_error=False:
# the check itself, with its messages, is require_scope's).
_BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer KEY`")
_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: KEY`")


def require_scope(scope: str) -> Callable[..., ApiKey]:
    """A dependency giving the request's verified key, which must allow ``scope``."""

    def dependency(
        request: Request,
        _bearer: Annotated[object, Depends(_BEARER)] = None,
        _header: Annotated[object, Depends(_HEADER)] = None,
    ) -> ApiKey:
        presented = presented_key(
            request.headers.get("authorization"), request.headers.get("x-api-key")
        )
        key = services(request).keys.verify(presented)
        if not key.allows(scope):
            raise ForbiddenError(
                f"this API key (id {key.id}) lacks the {scope} scope this route needs; "
                f"use a key that has it, or create one: "
                f"`testfleet keys create --project {key.project} --scopes {scope}`"
            )
        return key

    return dependency


ReadKey = Annotated[ApiKey, Depends(require_scope("test:read"))]
"""A key allowed to read the project's runs, reports and artifacts."""
WriteKey = Annotated[ApiKey, Depends(require_scope("test:write"))]
"""A key allowed to submit and cancel runs (and generate suites)."""
QuarantineKey = Annotated[ApiKey, Depends(require_scope("quarantine:write"))]
"""A key allowed to put the project's tests in quarantine and take them out."""
DashboardKey = Annotated[ApiKey, Depends(require_scope("dashboard:read"))]
"""A key allowed to see the fleet (workers, Grid slots, queue)."""
MetricsKey = Annotated[ApiKey, Depends(require_scope(METRICS_SCOPE))]
"""A key allowed to scrape ``/metrics`` (the fleet's queue, workers, AI spend)."""
NotifyKey = Annotated[ApiKey, Depends(require_scope("notify:write"))]
"""A key allowed to set the project's notification targets and read their deliveries."""
