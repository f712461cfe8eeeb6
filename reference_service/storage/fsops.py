"""Blocking file-system steps with the durability each one needs (call them via a thread)."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


class NameTaken(Exception):
    """The destination of a placement already exists (a racing upload took the name)."""


def place_no_clobber(src: Path, dst: Path, *, sync_dir: bool = True) -> None:
    """Move ``src`` to ``dst`` atomically, failing with :class:`NameTaken` if ``dst`` exists.

    A hard link is atomic and never overwrites; a concurrent upload that raced to the same name
    must not replace committed data. Filesystems without hard links fall back to a checked rename.
    ``sync_dir=False`` leaves the directory fsync to the caller (one fsync after the sidecar's rename
    makes both names durable).
    """
    # Any OSError from here on (e.g. a regular file where the hour directory belongs) is a storage
    # failure, not the client's fault; only an existing *destination* means a name conflict.
    ensure_dir(dst.parent)
    try:
        os.link(src, dst)
    except FileExistsError:
        raise NameTaken(str(dst)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        if dst.exists():
            raise NameTaken(str(dst)) from None
        os.rename(src, dst)
    else:
        os.unlink(src)
    if sync_dir:
        fsync_dir(dst.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same directory + fsync + rename: readers see the old or the new file."""
    ensure_dir(path.parent)
    tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(path.parent)


def temp_siblings(path: Path) -> list[Path]:
    """Leftovers of :func:`write_atomic` for ``path`` (after a crash)."""
    return sorted(path.parent.glob(f"{path.name}.tmp-*")) if path.parent.is_dir() else []


def remove_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_durably(*paths: Path) -> None:
    remove_quietly(*paths)
    for parent in {p.parent for p in paths}:
        with contextlib.suppress(FileNotFoundError):
            fsync_dir(parent)
