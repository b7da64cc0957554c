"""Signed webhooks: ``X-Testfleet-Signature: sha256=<hex HMAC-SHA256 of the body>`` keyed
with the target's secret, and ``X-Testfleet-Timestamp`` (Unix seconds). The body carries
the same ``timestamp``, so it is signed too: a receiver checks the signature, that the
header's timestamp is the body's, and that it is within its window (we document
``notify.replay_window_s``, 300 s); it may also keep the ``X-Testfleet-Delivery`` ids it
saw (one per run and target: a retried delivery has the same id)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Testfleet-Signature"
TIMESTAMP_HEADER = "X-Testfleet-Timestamp"
DELIVERY_HEADER = "X-Testfleet-Delivery"
EVENT_HEADER = "X-Testfleet-Event"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``body`` keyed with ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], now_s: float, window_s: int
) -> bool:
    """What a receiver does: the signature matches, the header's timestamp is the signed
    body's, and it is within ``window_s`` of ``now_s`` (a replayed delivery is older)."""
    lower = {k.lower(): v for k, v in headers.items()}
    given = lower.get(SIGNATURE_HEADER.lower(), "")
    if not hmac.compare_digest(signature(secret, body), given):
        return False
    try:
        timestamp_s = int(lower[TIMESTAMP_HEADER.lower()])
        signed_s = int(json.loads(body)["timestamp"])
    except (KeyError, ValueError, TypeError):
        return False
    return timestamp_s == signed_s and abs(now_s - timestamp_s) <= window_s
