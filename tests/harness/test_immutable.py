"""Storage made unwritable even for root (harness.immutable), and removable again by every clean-up path."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness import immutable
from harness.errors import HarnessError, Unsupported
from harness.plugin.fixtures import ScopedLifecycle
from harness.runstate import sweep_local
from harness.targets.base import Lifecycle, SEHandle


def _supported(path: Path) -> None:
    """Skip where this machine cannot set the flag (not root, a filesystem without inode flags)."""
    try:
        immutable.set_immutable(path, True)
    except Unsupported as exc:
        pytest.skip(str(exc))
    immutable.set_immutable(path, False)


@pytest.fixture
def base(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "storage"
    path.mkdir()
    _supported(path)
    yield path
    immutable.clear_tree(tmp_path)  # whatever a failing test left: pytest must be able to remove tmp_path


def test_freeze_makes_the_directory_unwritable_even_for_root_and_thaw_undoes_it(base: Path) -> None:
    (base / "kept.bin").write_bytes(b"x")
    immutable.freeze(base)
    assert immutable.is_immutable(base)
    assert not os.access(base, os.W_OK | os.X_OK)
    with pytest.raises(PermissionError):
        (base / "new.bin").write_bytes(b"y")
    assert (base / "kept.bin").read_bytes() == b"x"
    assert not (base / immutable.PROBE_NAME).exists()
    immutable.thaw(base)
    assert not immutable.is_immutable(base)
    (base / "new.bin").write_bytes(b"y")
    immutable.thaw(base)  # thawing twice is harmless
    immutable.thaw(base / "gone")  # and so is thawing what is gone


def test_remove_tree_clears_the_flag_it_meets(base: Path, tmp_path: Path) -> None:
    (base / "2026" / "01").mkdir(parents=True)
    (base / "2026" / "01" / "f.bin").write_bytes(b"x")
    immutable.freeze(base / "2026" / "01")
    immutable.freeze(base)
    immutable.remove_tree(tmp_path / "storage")
    assert not (tmp_path / "storage").exists()


def test_sweep_of_a_dead_run_removes_its_frozen_storage(base: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = tmp_path / "state"
    run = root / "rdead01"
    (run / "gw0").mkdir(parents=True)
    (run / "owner.pid").write_text("999999999 1")  # no such process: the run is over
    storage = run / "gw0" / "storage-s1"
    storage.mkdir()
    immutable.freeze(storage)
    monkeypatch.setenv("SE_CONFORMANCE_STATE", str(root))
    removed = sweep_local()
    assert f"state dir {run}" in removed
    assert not run.exists()


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (errno.ENOTTY, Unsupported, "no inode flags"),
        (errno.EOPNOTSUPP, Unsupported, "no inode flags"),
        (errno.EPERM, Unsupported, "CAP_LINUX_IMMUTABLE"),
        (errno.EIO, HarnessError, "Input/output error"),
    ],
)
def test_ioctl_errors_say_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int,
                                          kind: type[Exception], words: str) -> None:  # fmt: skip
    def refuse(*_args: Any) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(immutable.fcntl, "ioctl", refuse)
    with pytest.raises(kind) as caught:
        immutable.set_immutable(tmp_path, True)
    assert words in str(caught.value)
    assert caught.type is kind


def test_a_flag_that_does_not_stop_writes_is_unsupported_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(immutable, "set_immutable", lambda _path, on: calls.append(on))
    with pytest.raises(Unsupported, match="still writable"):
        immutable.freeze(tmp_path)
    assert calls == [True, False]
    assert list(tmp_path.iterdir()) == []


class _Recorder(Lifecycle):
    """A lifecycle that only records freezes and thaws."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    def freeze_storage(self, se: SEHandle) -> None:
        self.log.append(("freeze", se.name))

    def thaw_storage(self, se: SEHandle) -> None:
        self.log.append(("thaw", se.name))

    def start_se(self, **_kwargs: Any) -> SEHandle:
        raise NotImplementedError

    def restart_se(self, se: SEHandle, *, mode: str | None = None) -> SEHandle:
        raise NotImplementedError

    def kill_se(self, se: SEHandle) -> None: ...

    def stop_se(self, se: SEHandle) -> None: ...

    def private_database(self) -> Any:
        raise NotImplementedError

    def close(self) -> None: ...


def _handle(name: str) -> SEHandle:
    return SEHandle(name=name, base_url="http://127.0.0.1:1", prefix=name, mode="edit", element_id=name)


def test_a_test_that_does_not_thaw_gets_its_storage_thawed_at_its_end() -> None:
    real = _Recorder()
    scoped = ScopedLifecycle(real, SimpleNamespace())  # type: ignore[arg-type]
    one, two = _handle("s1"), _handle("s2")
    scoped.freeze_storage(one)
    scoped.freeze_storage(two)
    scoped.thaw_storage(one)
    scoped.close()
    assert real.log == [("freeze", "s1"), ("freeze", "s2"), ("thaw", "s1"), ("thaw", "s2")]


def test_a_lifecycle_without_the_facility_says_unsupported() -> None:
    class Plain(_Recorder):
        freeze_storage = Lifecycle.freeze_storage

    with pytest.raises(Unsupported, match="cannot make an SE's storage unwritable"):
        Plain().freeze_storage(_handle("s1"))
