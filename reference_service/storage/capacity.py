"""In-process accounting of bytes in flight, so concurrent uploads cannot jointly overshoot.

The database counter (``<p>_config.used_bytes``) is the committed truth and its guarded UPDATE is the
final, race-free check; this guard lets an upload stop *while streaming*, before it fills the disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CapacityExceeded(Exception):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"insufficient storage: needs {needed} bytes, {max(available, 0)} available")


class Reservation:
    def __init__(self, guard: CapacityGuard, used: int) -> None:
        self._guard = guard
        self._used = used
        self.bytes = 0

    def add(self, n: int) -> None:
        self._guard.inflight += n
        self.bytes += n
        if self._used + self._guard.inflight > self._guard.capacity:
            available = self._guard.capacity - self._used - (self._guard.inflight - self.bytes)
            raise CapacityExceeded(self.bytes, available)


class CapacityGuard:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.inflight = 0

    def available(self, used: int) -> int:
        return self.capacity - used - self.inflight

    @contextmanager
    def reserve(self, used: int) -> Iterator[Reservation]:
        res = Reservation(self, used)
        try:
            yield res
        finally:
            self.inflight -= res.bytes
