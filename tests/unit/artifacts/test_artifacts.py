"""The artifact store's local and in-memory backends, and its names."""

from __future__ import annotations

from pathlib import Path

import pytest

from testfleet.artifacts import FileStore, MemoryStore, names, open_store, store_url
from testfleet.errors import UsageError
from testfleet.settings import PathSettings, Settings
from tests.contract_artifacts import ArtifactStoreContract


class TestMemoryStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()

    def test_the_content_type_follows_the_name(self, store: MemoryStore) -> None:
        store.put("runs/r/a.png", b"x")
        store.put("runs/r/a.log", b"x")
        store.put("runs/r/a.bin", b"x", content_type="application/x-custom")
        assert store.content_type("runs/r/a.png") == "image/png"
        assert store.content_type("runs/r/a.log") == "text/plain; charset=utf-8"
        assert store.content_type("runs/r/a.bin") == "application/x-custom"


class TestFileStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> FileStore:
        return FileStore(tmp_path / "artifacts")

    def test_artifacts_are_files_under_the_root(self, store: FileStore) -> None:
        store.save("r1", "a.png", b"png")
        assert (store.root / "runs" / "r1" / "a.png").read_bytes() == b"png"
        assert store.url == store.root.resolve().as_uri()

    def test_no_temporary_file_is_left_or_listed(self, store: FileStore) -> None:
        store.put("runs/r1/a.png", b"x")
        (store.root / "runs" / "r1" / ".tmp-crashed-writer").write_bytes(b"half")
        assert [i.key for i in store.list()] == ["runs/r1/a.png"]
        assert sorted(p.name for p in (store.root / "runs" / "r1").iterdir()) == [
            ".tmp-crashed-writer",
            "a.png",
        ]

    def test_emptied_directories_go_too(self, store: FileStore) -> None:
        store.save("r1", "a.png", b"x")
        store.save("r2", "a.png", b"x")
        store.delete_run("r1")
        assert not (store.root / "runs" / "r1").exists()
        assert (store.root / "runs" / "r2").is_dir()

    def test_nothing_outside_the_root_is_reachable(self, store: FileStore, tmp_path: Path) -> None:
        (tmp_path / "secret.txt").write_text("TOP SECRET")
        (tmp_path / "artifacts").mkdir()
        (tmp_path / "artifacts" / "link").symlink_to(tmp_path)
        assert [i.key for i in store.list()] == []  # a symlink is not followed
        with pytest.raises(UsageError):
            store.get("../secret.txt")


def test_the_url_chooses_the_backend(tmp_path: Path) -> None:
    base = Settings(paths=PathSettings(state_dir=tmp_path))
    default = open_store(base)
    assert isinstance(default, FileStore)
    assert default.root == tmp_path / "artifacts"
    assert store_url(base) == (tmp_path / "artifacts").as_uri()
    for url in (str(tmp_path / "x"), (tmp_path / "x").as_uri(), f"file://localhost{tmp_path}/x"):
        chosen = open_store(
            base.model_copy(update={"artifacts": base.artifacts.model_copy(update={"url": url})})
        )
        assert isinstance(chosen, FileStore)
        assert chosen.root == tmp_path / "x"
    memory = Settings(artifacts={"url": "memory://"})  # type: ignore[arg-type]
    assert isinstance(open_store(memory), MemoryStore)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://host/x", "not supported"),
        ("relative/dir", "not supported"),
        ("file://otherhost/x", "not a host"),
        ("s3://UPPER/x", "3-63 lowercase"),
        ("s3://ab", "3-63 lowercase"),
        ("s3:///prefix", "3-63 lowercase"),
    ],
)
def test_a_bad_url_says_how_to_write_one(url: str, says: str) -> None:
    settings = Settings(artifacts={"url": url})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=says):
        open_store(settings)


def test_names_thumbnails_and_screenshots() -> None:
    assert names.thumbnail_name("c1-a1-step02-home.png") == "c1-a1-step02-home.thumb.png"
    listed = [
        "c-a1-step01-x.png",
        "c-a1-step01-x.thumb.png",
        "c-a1-step02-y.thumb.png",
        "c-a1-step02-y.thumb.thumb.png",
        "c.log",
    ]
    # A screenshot whose own label ends in ".thumb" is still a screenshot.
    assert names.screenshots(listed) == ["c-a1-step01-x.png", "c-a1-step02-y.thumb.png"]
    assert names.case_artifact_name("run-0001", 2, "step01-a.png") == "run-0001-a2-step01-a.png"
    assert names.screenshot_name(4, "after login!") == "step04-after-login.png"
    assert names.step_log_name("run-0001") == "run-0001.log"
    assert names.run_of_key("runs/r1/a.png") == "r1"
    assert names.run_of_key("baselines/p/a.png") is None
    assert names.media_type("x.PNG") == "image/png"
    assert names.media_type("x") == "application/octet-stream"
