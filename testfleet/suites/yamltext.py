"""Parsing suite text, YAML or JSON (JSON is YAML), with a cap on YAML aliases.

The C parser (fast) reads the text; only text that turns out invalid is read
again by the pure-Python one, whose error marks point at the right line. An
alias count over ``limits.max_yaml_aliases`` refuses the text before it is built
(its expanded size is ``testfleet.suites.limits.RunLimits.check_document``'s business).
"""

from __future__ import annotations

from typing import Any

import yaml

from testfleet.errors import SuiteError
from testfleet.settings import LimitSettings
from testfleet.suites.limits import setting


def parse_yaml(text: str, limits: LimitSettings, source: str) -> Any:
    """Parse one suite's YAML or JSON text (JSON is YAML), refusing too many aliases.

    Raises ``SuiteError`` naming the file for text that is not YAML, nests too
    deeply, or has more aliases than ``max_yaml_aliases``.
    """
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        if "*" in text and "&" in text:  # no anchor or no alias: nothing to count
            _count_aliases(text, loader, limits.max_yaml_aliases, source)
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        exc = _precise(text, exc)
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError([f"{source}: not valid YAML or JSON{where}: {problem}"]) from None
    except RecursionError:
        raise SuiteError([f"{source}: nested too deeply to be a suite"]) from None


def _precise(text: str, error: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python parser's error for ``text``: it points at the right line where the
    C parser (fast, used first) may point past the end. Costs only on invalid text."""
    try:
        yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return exc
    except RecursionError:
        return error
    return error


def _count_aliases(text: str, loader: Any, limit: int, source: str) -> None:
    aliases = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > limit:
                problem = (
                    f"{source}: more than {limit} YAML aliases (*name); write the repeated "
                    f"parts out, use flows, or raise {setting('max_yaml_aliases')}"
                )
                raise SuiteError([problem])
