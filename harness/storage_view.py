"""Read-mostly views of an SE's storage path.

The suite inspects the layout (data file, ``.attr.json`` sidecar, no ``.tmp*`` leftovers) through this
protocol. On local targets it is the directory itself; on docker targets it reads through the container.
``write_bytes``/``remove`` exist only to *arrange* a test (plant a v1 sidecar, create an orphan), never
to repair what the SE did.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class StorageView(Protocol):
    def list_files(self) -> list[str]:
        """Every regular file below the base path, as sorted relative POSIX paths."""
        ...

    def read_bytes(self, rel: str) -> bytes: ...

    def exists(self, rel: str) -> bool: ...

    def write_bytes(self, rel: str, data: bytes) -> None: ...

    def remove(self, rel: str) -> None:
        """Remove a file, or a directory with everything in it (nothing if it does not exist)."""
        ...


class LocalStorageView:
    """The storage path of an SE that runs on this machine."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def _path(self, rel: str) -> Path:
        path = (self.base / rel).resolve()
        if not path.is_relative_to(self.base.resolve()):
            raise ValueError(f"{rel!r} points outside the storage path {self.base}")
        return path

    def list_files(self) -> list[str]:
        found = []
        for dirpath, _dirs, files in os.walk(self.base):
            for name in files:
                found.append(Path(dirpath, name).relative_to(self.base).as_posix())
        return sorted(found)

    def read_bytes(self, rel: str) -> bytes:
        return self._path(rel).read_bytes()

    def exists(self, rel: str) -> bool:
        return self._path(rel).exists()

    def write_bytes(self, rel: str, data: bytes) -> None:
        path = self._path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def remove(self, rel: str) -> None:
        path = self._path(rel)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
