"""How a person names a test: ``Suite/test name`` (the form the CLI takes and the API's
``test`` parameters hold), and back.

A data row is part of its test's name in the history (``cases.data_row`` is '' until the
run store records rows apart), so ``Suite/test name`` names every test. A suite name
may itself hold a ``/``: the name is then matched against the known tests whole
(``testfleet.history.queries.resolve``); ``split`` is the guess for a test not seen yet.
"""

from __future__ import annotations

from testfleet.errors import UsageError
from testfleet.history.rules import Identity

SEPARATOR = "/"
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""What a test's name (and a quarantine's reason and owner) may hold: no control
characters (PostgreSQL's text refuses NUL; terminals print the rest)."""


def joined(identity: Identity) -> str:
    """``Suite/test name`` of ``identity``."""
    return f"{identity.suite}{SEPARATOR}{identity.test}"


def split(name: str) -> Identity:
    """``Suite/test name`` as an identity, split at the first ``/``; ``UsageError``
    saying the form when there is none."""
    suite, sep, test = name.partition(SEPARATOR)
    if not sep or not suite.strip() or not test.strip():
        raise UsageError(
            f"name the test as SUITE/TEST NAME (the suite's name, a slash, the test's "
            f'name, quoted: "Checkout/pays by card"); got {name!r}'
        )
    return Identity(suite, test)
