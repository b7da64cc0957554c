"""The artifact store's contract: one suite, inherited by each backend's test class.

A backend's test class subclasses ``ArtifactStoreContract`` and provides a
``store`` fixture (an empty store); every test here then runs against it (the
pattern of saq's queue tests). Backend-specific checks live in the subclasses.
"""

from __future__ import annotations

import threading
import time

import pytest

from testfleet.artifacts import ArtifactStore
from testfleet.artifacts.base import CHUNK_BYTES
from testfleet.errors import NotFoundError, UsageError

BAD_KEYS = [
    "",
    "/abs",
    "a//b",
    "../x",
    "a/../b",
    "a/..",
    ".hidden",
    "a/.tmp",
    "a/",
    "a\\b",
    "a b",
    "a/\x00",
    "é",
]


class ArtifactStoreContract:
    """What every ``ArtifactStore`` does, whatever keeps the bytes."""

    def test_put_then_get_gives_the_same_bytes(self, store: ArtifactStore) -> None:
        store.put("runs/r1/shot.png", b"\x89PNG one")
        assert store.get("runs/r1/shot.png") == b"\x89PNG one"
        store.put("runs/r1/shot.png", b"\x89PNG two, longer")
        assert store.get("runs/r1/shot.png") == b"\x89PNG two, longer"

    def test_an_empty_artifact_is_an_artifact(self, store: ArtifactStore) -> None:
        store.put("runs/r1/empty.log", b"")
        assert store.get("runs/r1/empty.log") == b""
        assert store.exists("runs/r1/empty.log")

    def test_a_big_artifact_streams_in_bounded_chunks(self, store: ArtifactStore) -> None:
        data = bytes(range(256)) * (3 * CHUNK_BYTES // 256 + 7)  # 3 chunks and a bit
        store.put("runs/r1/report.html", data)
        with store.open("runs/r1/report.html") as stream:
            assert stream.size_bytes == len(data)
            chunks = list(stream)
        assert len(chunks) >= 4
        assert all(0 < len(c) <= CHUNK_BYTES for c in chunks)
        assert b"".join(chunks) == data

    def test_a_stream_closed_early_is_fine(self, store: ArtifactStore) -> None:
        store.put("runs/r1/big.bin", b"x" * (2 * CHUNK_BYTES))
        stream = store.open("runs/r1/big.bin")
        first = next(iter(stream))
        stream.close()
        assert first
        assert store.get("runs/r1/big.bin") == b"x" * (2 * CHUNK_BYTES)

    def test_missing_artifacts_are_not_found(self, store: ArtifactStore) -> None:
        with pytest.raises(NotFoundError, match=r"nope\.png"):
            store.get("runs/r1/nope.png")
        with pytest.raises(NotFoundError):
            store.open("baselines/p/none.png")
        assert store.stat("runs/r1/nope.png") is None
        assert not store.exists("runs/r1/nope.png")
        store.delete("runs/r1/nope.png")  # deleting nothing is no error

    def test_stat_gives_size_and_write_time(self, store: ArtifactStore) -> None:
        before_ms = int(time.time() * 1000) - 2000  # object stores keep whole seconds
        store.put("runs/r1/a.log", b"12345")
        info = store.stat("runs/r1/a.log")
        assert info is not None
        assert (info.key, info.size_bytes) == ("runs/r1/a.log", 5)
        assert before_ms <= info.modified_ms <= int(time.time() * 1000) + 2000

    def test_list_gives_a_prefix_a_directory_at_a_time(self, store: ArtifactStore) -> None:
        keys = [
            "runs/r1/b.png",
            "runs/r1/a.png",
            "runs/r10/a.png",
            "runs/r1-x/a.png",
            "baselines/p1/home/v1.png",
            "runs/r2/a.log",
        ]
        for key in keys:
            store.put(key, key.encode())
        assert [i.key for i in store.list("runs/r1/")] == ["runs/r1/a.png", "runs/r1/b.png"]
        assert sorted(i.key for i in store.list("runs/r1")) == [
            "runs/r1-x/a.png",
            "runs/r1/a.png",
            "runs/r1/b.png",
            "runs/r10/a.png",
        ]
        listed = [i.key for i in store.list()]
        assert sorted(listed) == sorted(keys)
        # Object stores differ on "r1-x/" against "r1/"; what holds everywhere: the keys
        # of one directory come together, sorted (retention relies on it).
        runs = [k.split("/")[1] for k in listed if k.startswith("runs/")]
        assert runs == [r for r in dict.fromkeys(runs) for _ in range(runs.count(r))]
        assert [i.size_bytes for i in store.list("baselines/")] == [len(keys[4])]
        assert list(store.list("nothing/")) == []

    def test_delete_and_delete_prefix(self, store: ArtifactStore) -> None:
        for name in ("a.png", "a.thumb.png", "c.log"):
            store.put(f"runs/r1/{name}", b"x")
        store.put("runs/r10/a.png", b"keep")
        store.delete("runs/r1/a.png")
        assert not store.exists("runs/r1/a.png")
        assert store.delete_prefix("runs/r1/") == 2
        assert [i.key for i in store.list()] == ["runs/r10/a.png"]
        assert store.delete_prefix("runs/r1/") == 0
        with pytest.raises(ValueError, match="must end with"):
            store.delete_prefix("runs/r1")

    def test_many_deletes_at_once(self, store: ArtifactStore) -> None:
        for i in range(30):
            store.put(f"runs/many/{i:03d}.log", b"x")
        assert store.delete_prefix("runs/many/", batch=7) == 30
        assert list(store.list("runs/many/")) == []

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_keys_are_checked_before_the_backend_sees_them(
        self, store: ArtifactStore, key: str
    ) -> None:
        with pytest.raises(UsageError, match="not valid"):
            store.put(key, b"x")
        with pytest.raises(UsageError):
            store.get(key)
        with pytest.raises(UsageError):
            store.delete(key)
        assert list(store.list()) == []

    def test_a_runs_artifacts_by_name(self, store: ArtifactStore) -> None:
        assert store.save("20990101-000000-000001", "c1-a1-step01-home.png", b"png") == (
            "c1-a1-step01-home.png"
        )
        assert store.read("20990101-000000-000001", "c1-a1-step01-home.png") == b"png"
        assert store.has_run_artifact("20990101-000000-000001", "c1-a1-step01-home.png")
        assert store.exists("runs/20990101-000000-000001/c1-a1-step01-home.png")
        with pytest.raises(NotFoundError, match=r"20990101-000000-000001 has no artifact 'x.png'"):
            store.read("20990101-000000-000001", "x.png")
        with pytest.raises(UsageError, match="names listed in the run's result"):
            store.read("20990101-000000-000001", "../x.png")
        with pytest.raises(NotFoundError, match="does not exist"):
            store.read("../other", "x.png")

    def test_runs_lists_each_run_once_with_its_newest_write(self, store: ArtifactStore) -> None:
        store.save("r1", "a.png", b"x")
        store.save("r1", "b.png", b"x")
        store.save("r2", "a.log", b"x")
        store.put("baselines/p/a.png", b"not a run")
        found = {r.run_id: r for r in store.runs()}
        assert set(found) == {"r1", "r2"}
        assert (found["r1"].count, found["r2"].count) == (2, 1)
        newest = max(i.modified_ms for i in store.list("runs/r1/"))
        assert found["r1"].newest_ms == newest
        assert store.delete_run("r1") == 2
        assert [r.run_id for r in store.runs()] == ["r2"]

    def test_readers_never_see_half_an_artifact(self, store: ArtifactStore) -> None:
        old, new = b"o" * (CHUNK_BYTES * 2), b"n" * (CHUNK_BYTES * 3)
        store.put("runs/r1/shot.png", old)
        seen: list[bytes] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                seen.append(store.get("runs/r1/shot.png"))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for _ in range(5):
                store.put("runs/r1/shot.png", new)
                store.put("runs/r1/shot.png", old)
        finally:
            done.set()
            reader.join()
        assert seen
        assert all(s in (old, new) for s in seen)
