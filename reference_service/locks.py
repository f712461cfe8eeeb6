"""In-process locks. One SE process owns one prefix and one storage path, so these suffice for
ordering inside the process; cross-process exclusion (rebuild) uses PostgreSQL advisory locks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ReadWriteLock:
    """Many file writers at once, or one cache rebuild alone (writer-preferring, so a rebuild
    waiting for in-flight uploads is not starved by new ones)."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting_exclusive = 0

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._exclusive and not self._waiting_exclusive)
            self._shared += 1
        try:
            yield
        finally:
            async with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._cond:
            self._waiting_exclusive += 1
            try:
                await self._cond.wait_for(lambda: not self._exclusive and self._shared == 0)
            finally:
                self._waiting_exclusive -= 1
            self._exclusive = True
        try:
            yield
        finally:
            async with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class FileLocks:
    """Striped per-file locks: operations on one file_id are serialized, so a PATCH and a DELETE
    (or two PATCHes) cannot interleave their sidecar write and their database update."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [asyncio.Lock() for _ in range(stripes)]

    def __call__(self, file_id: uuid.UUID) -> asyncio.Lock:
        return self._locks[file_id.int % len(self._locks)]
