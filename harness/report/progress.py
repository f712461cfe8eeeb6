"""The progress file: JSON lines the report plugin appends while pytest runs, the command line follows.

The path comes from the environment (``SE_CONFORMANCE_PROGRESS``), not from a pytest option, so a run
started by hand is unaffected. Events::

    {"event": "collected", "total": 120}
    {"event": "test", "nodeid": "...", "outcome": "fail", "requirements": ["SE-FILE-001"], "message": "..."}
    {"event": "finished", "exit_status": 1}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PROGRESS_ENV = "SE_CONFORMANCE_PROGRESS"
COLLECTED = "collected"
TEST = "test"
FINISHED = "finished"


class ProgressWriter:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_env(cls) -> ProgressWriter | None:
        path = os.environ.get(PROGRESS_ENV)
        return cls(Path(path)) if path else None

    def emit(self, event: str, **data: Any) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, **data}) + "\n")


class ProgressReader:
    """Reads the events appended since the last call; tolerates a half-written last line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as src:
                src.seek(self._offset)
                chunk = src.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events
