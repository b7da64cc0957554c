"""Visual baselines: approved screenshots, versioned, per project, in the artifact store.

A baseline is what one ``assert_screenshot`` step is compared with, identified by
(suite, test, step name, viewport, browser) within a project. Each version is a PNG
and a JSON record of where it came from, at ``baselines/p-<project>/<id>/v<N>.png``
and ``.json`` (``testfleet.artifacts.names``); the JSON is written after the image,
so a version is there once its record is. A version is never rewritten: the first
run without a baseline creates version 1, ``testfleet baselines approve`` adds the
next. The newest version is the baseline.

A ``BaselineStore`` is opened for one project and can only name that project's
keys: one project's baselines are invisible to another's, whatever id it asks for.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ValidationError

from testfleet.artifacts import ArtifactStore, names
from testfleet.errors import NotFoundError, TestfleetError

Source = Literal["created", "approved"]


@dataclass(frozen=True)
class BaselineIdentity:
    """What a baseline belongs to within a project."""

    suite: str
    test: str
    name: str
    """The step's name (``screenshot-N`` for the Nth unnamed ``assert_screenshot``)."""
    viewport: str
    """``<width>x<height>`` CSS px."""
    browser: str

    @property
    def id(self) -> str:
        """A readable, stable id: test and step name, then a hash of all five parts (so
        names that read alike never share a baseline)."""
        parts = (self.suite, self.test, self.name, self.viewport, self.browser)
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
        return f"{names.safe_name(self.test)[:40]}-{names.safe_name(self.name)[:40]}-{digest}"


class BaselineVersion(BaseModel):
    """One version of a baseline: what it is of and where it came from."""

    id: str
    version: int
    suite: str
    test: str
    name: str
    viewport: str
    browser: str
    width_px: int
    height_px: int
    created_ms: int
    """When this version was recorded (ms since the epoch)."""
    source: Source
    """``created`` by the first run without a baseline, or ``approved`` from a run."""
    run_id: str | None = None
    """The run whose screenshot this is."""
    case_id: str | None = None
    step: int | None = None
    approved_by: str | None = None
    """The id of the API key that approved it."""


class BaselineStore:
    """One project's baselines in an artifact store."""

    def __init__(self, artifacts: ArtifactStore, project: str) -> None:
        self.artifacts = artifacts
        self.project = project
        self._prefix = names.baselines_prefix(project)

    def _key(self, baseline_id: str, version: int, suffix: str) -> str:
        try:
            return names.baseline_key(self.project, baseline_id, version, suffix)
        except TestfleetError:
            raise NotFoundError(f"no baseline {baseline_id!r} in project {self.project}") from None

    def _record(self, key: str) -> BaselineVersion | None:
        try:
            return BaselineVersion.model_validate_json(self.artifacts.get(key))
        except NotFoundError:
            return None
        except ValidationError:
            return None  # written by an incompatible version: not a usable baseline

    def _complete_versions(self, prefix: str) -> dict[str, list[int]]:
        """Baseline id -> its versions that have a record, ascending."""
        found: dict[str, list[int]] = {}
        for info in self.artifacts.list(prefix):
            parsed = names.baseline_version_of_key(info.key)
            if parsed is not None and parsed[2] == ".json":
                found.setdefault(parsed[0], []).append(parsed[1])
        return {bid: sorted(versions) for bid, versions in found.items()}

    def versions(self, baseline_id: str) -> list[BaselineVersion]:
        """Every version of a baseline, oldest first; ``NotFoundError`` when it has none."""
        self._key(baseline_id, 1, ".json")  # a bad id is simply not found
        numbers = self._complete_versions(f"{self._prefix}{baseline_id}/").get(baseline_id, [])
        records = [r for n in numbers if (r := self._record(self._key(baseline_id, n, ".json")))]
        if not records:
            raise NotFoundError(
                f"no baseline {baseline_id!r} in project {self.project}: list them with "
                "`testfleet baselines list`"
            )
        return records

    def latest(self, baseline_id: str) -> BaselineVersion | None:
        """The newest version of a baseline, or None when there is none yet."""
        try:
            return self.versions(baseline_id)[-1]
        except NotFoundError:
            return None

    def image(self, baseline_id: str, version: int, suffix: str = ".png") -> bytes:
        """A version's PNG (or what ``suffix`` names); ``NotFoundError`` when there is none."""
        try:
            return self.artifacts.get(self._key(baseline_id, version, suffix))
        except NotFoundError:
            raise NotFoundError(
                f"baseline {baseline_id!r} has no version {version} in project {self.project}"
            ) from None

    def all(self) -> list[BaselineVersion]:
        """The newest version of every baseline of the project, by suite, test and name."""
        latest = []
        for baseline_id, numbers in self._complete_versions(self._prefix).items():
            record = self._record(self._key(baseline_id, numbers[-1], ".json"))
            if record is not None:
                latest.append(record)
        return sorted(latest, key=lambda r: (r.suite, r.test, r.name, r.viewport, r.browser))

    def add(
        self,
        identity: BaselineIdentity,
        png: bytes,
        size_px: tuple[int, int],
        source: Source,
        *,
        run_id: str | None = None,
        case_id: str | None = None,
        step: int | None = None,
        approved_by: str | None = None,
        baseline_id: str | None = None,
        suffix: str = ".png",
    ) -> BaselineVersion:
        """Record ``png`` as the next version of ``identity``'s baseline and return it
        (``baseline_id``: the id a step recorded, when approving its screenshot; ``suffix``:
        ``.a11y.json`` when ``png`` is an accessibility baseline's accepted violations).

        Two writers racing for the same next version both succeed and the later one's
        image and record are the version (a baseline is the newest approved picture,
        either is one).
        """
        bid = baseline_id or identity.id
        current = self.latest(bid)
        record = BaselineVersion(
            id=bid,
            version=(current.version + 1) if current else 1,
            suite=identity.suite,
            test=identity.test,
            name=identity.name,
            viewport=identity.viewport,
            browser=identity.browser,
            width_px=size_px[0],
            height_px=size_px[1],
            created_ms=int(time.time() * 1000),
            source=source,
            run_id=run_id,
            case_id=case_id,
            step=step,
            approved_by=approved_by,
        )
        self.artifacts.put(self._key(bid, record.version, suffix), png)
        self.artifacts.put(
            self._key(bid, record.version, ".json"), record.model_dump_json().encode()
        )
        return record
