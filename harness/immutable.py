"""The immutable flag (``chattr +i``) of a directory on this machine: storage that not even root can write.

The SE runs as root in both managed targets, so ``chmod`` cannot make its storage unwritable. With the
inode flag ``FS_IMMUTABLE_FL`` set on the base directory, the kernel refuses every change to it, also
for root: ``os.access(base, W_OK)`` is false and creating a file in it fails with EPERM. Setting or
clearing the flag needs ``CAP_LINUX_IMMUTABLE`` (root on a host) and a filesystem that has the flag
(ext2/3/4, xfs, btrfs, …; not tmpfs before Linux 6.0, not overlayfs). Where either is missing the
facility is :class:`~harness.errors.Unsupported`, never silently skipped.

The flag is read and written with the ``FS_IOC_GETFLAGS``/``FS_IOC_SETFLAGS`` ioctls (what ``chattr``
does), so no e2fsprogs binary is needed. A directory left immutable (a run killed while a test had the
storage frozen) cannot be removed; :func:`remove_tree` clears the flags it meets and tries again.
"""

from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import os
import shutil
import struct
import sys
from pathlib import Path

from harness.errors import HarnessError, Unsupported

FS_IMMUTABLE_FL = 0x00000010
# _IOR('f', 1, long) and _IOW('f', 2, long) in the generic ioctl encoding (x86, arm, arm64, riscv, s390);
# the kernel reads and writes an int through the pointer, whatever the size in the number says.
_LONG = struct.calcsize("l")
FS_IOC_GETFLAGS = (2 << 30) | (_LONG << 16) | (ord("f") << 8) | 1
FS_IOC_SETFLAGS = (1 << 30) | (_LONG << 16) | (ord("f") << 8) | 2
# The filesystem (or the kernel) has no inode flags: ENOTTY/ENOIOCTLCMD from the ioctl, or the flag refused.
NO_FLAGS = frozenset({errno.ENOTTY, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})
PROBE_NAME = ".se-conformance-unwritable-probe"


def _open(path: Path) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
    if path.is_dir():
        flags |= os.O_DIRECTORY
    return os.open(path, flags)


def _flags(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf, True)
    return int(buf[0])


def is_immutable(path: Path) -> bool:
    """Whether ``path`` carries the immutable flag (False where the filesystem has no flags)."""
    try:
        fd = _open(path)
    except OSError:
        return False
    try:
        return bool(_flags(fd) & FS_IMMUTABLE_FL)
    except OSError:
        return False
    finally:
        os.close(fd)


def set_immutable(path: Path, on: bool) -> None:
    """Set (``on``) or clear the immutable flag of ``path``.

    ``Unsupported`` where this machine cannot (no Linux, a filesystem without inode flags, no
    CAP_LINUX_IMMUTABLE); ``HarnessError`` for anything else.
    """
    if not sys.platform.startswith("linux"):
        raise Unsupported("the immutable flag is a Linux inode flag", expected="a Linux host")
    fd = _open(path)
    try:
        current = _flags(fd)
        wanted = current | FS_IMMUTABLE_FL if on else current & ~FS_IMMUTABLE_FL
        if wanted != current:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, array.array("i", [wanted]))
    except OSError as exc:
        action = "set" if on else "clear"
        if exc.errno in NO_FLAGS:
            raise Unsupported(
                f"cannot {action} the immutable flag of {path}: its filesystem has no inode flags ({exc.strerror})",
                expected="a filesystem with the immutable flag (ext4, xfs, btrfs) under the storage path",
            ) from exc
        if exc.errno == errno.EPERM:
            raise Unsupported(
                f"cannot {action} the immutable flag of {path}: not permitted ({exc.strerror})",
                expected="a harness running as root (CAP_LINUX_IMMUTABLE)",
            ) from exc
        raise HarnessError(f"cannot {action} the immutable flag of {path}: {exc}") from exc
    finally:
        os.close(fd)


def freeze(path: Path) -> None:
    """Make the directory ``path`` unwritable, even for root, and prove it: a file cannot be created in it.

    ``Unsupported`` (with the flag cleared again) where the flag cannot be set or does not stop a write.
    """
    set_immutable(path, True)
    probe = path / PROBE_NAME
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except PermissionError:
        return  # EPERM (immutable) or EACCES: refused, as intended
    except BaseException:
        set_immutable(path, False)
        raise
    os.close(fd)
    with contextlib.suppress(OSError):
        set_immutable(path, False)
    probe.unlink(missing_ok=True)
    raise Unsupported(
        f"{path} is still writable with the immutable flag set",
        expected="a filesystem that honours the immutable flag",
    )


def thaw(path: Path) -> None:
    """Clear what :func:`freeze` set (nothing to do where the path is gone)."""
    if os.path.lexists(path):
        set_immutable(path, False)


def clear_tree(path: Path) -> list[Path]:
    """Clear the immutable flag of ``path`` and of everything below it; returns what was cleared."""
    cleared = []
    for dirpath, dirs, files in os.walk(path):
        for name in [".", *dirs, *files]:
            entry = Path(dirpath) if name == "." else Path(dirpath, name)
            if not entry.is_symlink() and is_immutable(entry):
                with contextlib.suppress(HarnessError, OSError):
                    set_immutable(entry, False)
                    cleared.append(entry)
    return cleared


def remove_tree(path: Path) -> None:
    """``shutil.rmtree(path, ignore_errors=True)`` that also removes a tree a frozen storage is part of."""
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path) and not os.path.islink(path) and os.path.isdir(path) and clear_tree(path):
        shutil.rmtree(path, ignore_errors=True)
