"""Live progress of ``se-conformance run``: counts while pytest runs, each failure as it happens.

On a terminal one status line is redrawn in place; in a CI log (no TTY) a counts line is printed every
tenth of the run or every 15 seconds, whichever comes first.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from harness.report import progress
from harness.report.outcomes import ERROR, FAIL, OUTCOMES, count

LOG_INTERVAL_S = 15.0


class ProgressView:
    def __init__(self, out: TextIO, *, tty: bool, clock: Any = time.monotonic) -> None:
        self.out = out
        self.tty = tty
        self.clock = clock
        self.started = clock()
        self.total: int | None = None
        self.outcomes: list[str] = []
        self._last_print = self.started
        self._last_step = 0
        self._printed_done = 0
        self._status_shown = False

    def status(self) -> str:
        done = len(self.outcomes)
        counts = count(self.outcomes)
        shown = "  ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o] or o in (FAIL, ERROR))
        total = f"{done:>4}/{self.total}" if self.total is not None else f"{done:>4}"
        return f"[{total}] {shown}  ({self.clock() - self.started:.0f}s)"

    def _line(self, text: str) -> None:
        if self.tty and self._status_shown:
            self.out.write("\r\x1b[2K")
            self._status_shown = False
        self.out.write(text + "\n")

    def _redraw(self) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K" + self.status())
            self._status_shown = True
            return
        done, now = len(self.outcomes), self.clock()
        step = max(1, (self.total or 0) // 10)
        if done // step > self._last_step or now - self._last_print >= LOG_INTERVAL_S:
            self._last_step, self._last_print, self._printed_done = done // step, now, done
            self._line(self.status())

    def handle(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            kind = event.get("event")
            if kind == progress.COLLECTED:
                self.total = int(event.get("total", 0))
                self._line(f"running {self.total} test(s)")
            elif kind == progress.TEST:
                outcome = str(event.get("outcome"))
                self.outcomes.append(outcome)
                if outcome in (FAIL, ERROR):
                    reqs = " ".join(event.get("requirements") or []) or "-"
                    self._line(f"{outcome.upper():<5} {reqs}  {event.get('nodeid')}")
        if events:
            self._redraw()
        self.out.flush()

    def close(self) -> None:
        pending = self._status_shown if self.tty else len(self.outcomes) != self._printed_done
        if pending:
            self._line(self.status())
        self.out.flush()
