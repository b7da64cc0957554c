"""Visual baselines' contract: one suite, run on each artifact store backend (memory and
a directory in the unit tests, S3 against SeaweedFS in the integration tests).

A backend's test class subclasses ``BaselineStoreContract`` and provides an
``artifacts`` fixture (an empty artifact store).
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from testfleet.artifacts import ArtifactStore
from testfleet.errors import NotFoundError
from testfleet.visual import BaselineIdentity, BaselineStore

HOME = BaselineIdentity("Shop", "home page", "hero", "1280x800", "chrome")


def png(color: str, size: tuple[int, int] = (8, 6)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


class BaselineStoreContract:
    """What baselines do, whatever store keeps them."""

    def test_versions_grow_and_the_newest_is_the_baseline(self, artifacts: ArtifactStore) -> None:
        store = BaselineStore(artifacts, "alpha")
        assert store.latest(HOME.id) is None
        first = store.add(
            HOME, png("red"), (8, 6), "created", run_id="r1", case_id="r1-0001", step=2
        )
        second = store.add(HOME, png("blue"), (8, 6), "approved", run_id="r2", approved_by="k1")
        assert (first.version, second.version) == (1, 2)
        assert [v.version for v in store.versions(HOME.id)] == [1, 2]
        latest = store.latest(HOME.id)
        assert latest is not None
        assert (latest.version, latest.source, latest.approved_by) == (2, "approved", "k1")
        assert (latest.suite, latest.test, latest.name, latest.viewport) == (
            "Shop",
            "home page",
            "hero",
            "1280x800",
        )
        assert store.image(HOME.id, 1) == png("red")
        assert store.image(HOME.id, 2) == png("blue")
        with pytest.raises(NotFoundError, match="no version 3"):
            store.image(HOME.id, 3)

    def test_listing_gives_each_baseline_once_at_its_newest(self, artifacts: ArtifactStore) -> None:
        store = BaselineStore(artifacts, "alpha")
        other = BaselineIdentity("Shop", "cart", "screenshot-1", "390x844", "chrome")
        store.add(HOME, png("red"), (8, 6), "created")
        store.add(HOME, png("blue"), (8, 6), "approved")
        store.add(other, png("green"), (8, 6), "created")
        listed = store.all()
        assert [(b.test, b.version) for b in listed] == [("cart", 1), ("home page", 2)]

    def test_one_projects_baselines_are_invisible_to_another(
        self, artifacts: ArtifactStore
    ) -> None:
        alpha, beta = BaselineStore(artifacts, "alpha"), BaselineStore(artifacts, "beta")
        alpha.add(HOME, png("red"), (8, 6), "created")
        assert beta.all() == []
        assert beta.latest(HOME.id) is None  # the same suite, test and step: not alpha's
        with pytest.raises(NotFoundError):
            beta.versions(HOME.id)
        with pytest.raises(NotFoundError):
            beta.image(HOME.id, 1)
        # Ids that try to climb out of the project are simply not found.
        for sneaky in ("../p-alpha/" + HOME.id, "..", "a/b", ""):
            with pytest.raises(NotFoundError):
                beta.versions(sneaky)
        beta.add(HOME, png("blue"), (8, 6), "created")
        assert alpha.image(HOME.id, 1) == png("red")
        assert beta.image(HOME.id, 1) == png("blue")

    def test_a_version_without_its_record_is_not_there_yet(self, artifacts: ArtifactStore) -> None:
        store = BaselineStore(artifacts, "alpha")
        store.add(HOME, png("red"), (8, 6), "created")
        # A writer that stopped between the image and the record.
        artifacts.put(f"baselines/p-alpha/{HOME.id}/v000002.png", png("blue"))
        latest = store.latest(HOME.id)
        assert latest is not None
        assert latest.version == 1
        assert store.add(HOME, png("green"), (8, 6), "approved").version == 2
        assert store.image(HOME.id, 2) == png("green")
