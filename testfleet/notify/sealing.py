"""Secrets of notification targets (tokens, webhook secrets, Slack webhook URLs), sealed
at rest with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
``notify.secret_key``. They are opened only to make a request: never returned by the
API, never logged."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from testfleet.errors import UsageError
from testfleet.settings import NotifySettings

MIN_KEY_CHARS = 16


def _fernet(settings: NotifySettings) -> Fernet:
    secret = settings.secret_key.get_secret_value()
    if len(secret) < MIN_KEY_CHARS:
        raise UsageError(
            "notifications need a key to encrypt their secrets with: set "
            f"TESTFLEET_NOTIFY__SECRET_KEY (at least {MIN_KEY_CHARS} characters; "
            "`testfleet up` makes one up)"
        )
    digest = hashlib.sha256(b"testfleet-notify:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(settings: NotifySettings, secret: str) -> str:
    """``secret`` encrypted (and authenticated) for storage."""
    return _fernet(settings).encrypt(secret.encode()).decode("ascii")


def open_sealed(settings: NotifySettings, sealed: str) -> str:
    """The secret ``seal`` stored; ``UsageError`` when the key changed since."""
    try:
        return _fernet(settings).decrypt(sealed.encode("ascii")).decode()
    except InvalidToken as exc:
        raise UsageError(
            "a notification target's secret cannot be read with this "
            "TESTFLEET_NOTIFY__SECRET_KEY (was it changed?): remove the target and add it again"
        ) from exc
