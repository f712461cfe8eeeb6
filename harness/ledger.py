"""The check ledger: every ``expect*``/``fail`` call of a test, recorded as ``(requirement, passed, what)``.

The requirement, not the test, is the unit of the report. A test may check several requirements; it
stops at its first failed check, so that check's requirement fails and the requirements of checks that
never ran are *not checked* by this test. The ledger is what lets the report tell those apart.

Checks made while a test *prepares* (inside :func:`arrange`, or in a fixture) are preconditions, not
verdicts: they are kept for the report's steps but count for no requirement. When one fails, the test
is **blocked** (:class:`Blocked`), and the message names the failed request and the requirement that
covers it, so the implementer knows where to look.

One ledger per test, held in a context variable that the pytest plugin opens around each test; outside
a test (unit tests of the harness, helper scripts) checks go to a ledger nobody reads.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

CHECK = "check"
TRANSPORT = "transport"  # the SE broke the protocol (reset, closed, unparsable answer, timeout)


class Blocked(Exception):
    """A preparation failed: no verdict, from this test, for the requirements it was preparing."""

    def __init__(self, what: str, *, covered_by: str | None = None, cause: str = "") -> None:
        self.what = what
        self.covered_by = covered_by
        self.cause = cause
        text = f"blocked: preparing {what!r} failed"
        if covered_by:
            text += f" (the request is covered by {covered_by}, checked by its own tests)"
        super().__init__(text + (f"\n{cause}" if cause else ""))


@dataclass(frozen=True)
class Check:
    requirement: str
    passed: bool
    what: str
    kind: str = CHECK
    arranging: bool = False  # made while preparing: counts for no requirement


@dataclass
class Ledger:
    checks: list[Check] = field(default_factory=list)
    arranging: list[str] = field(default_factory=list)  # the open arrangements, innermost last
    # Told about each check as it is made (the Allure step); set by the plugin.
    on_check: Callable[[Check], None] | None = None
    _drained: int = 0

    def record(self, requirement: str, passed: bool, what: str, kind: str = CHECK) -> Check:
        check = Check(requirement, passed, what, kind, bool(self.arranging))
        self.checks.append(check)
        return check

    def drain(self) -> list[Check]:
        """The checks recorded since the last drain (one pytest phase's worth)."""
        new = self.checks[self._drained :]
        self._drained = len(self.checks)
        return new


_CURRENT: contextvars.ContextVar[Ledger | None] = contextvars.ContextVar("se_conformance_ledger", default=None)
_NOBODY = Ledger()  # outside a test: recorded, never read


def current() -> Ledger:
    return _CURRENT.get() or _NOBODY


@contextlib.contextmanager
def opened(ledger: Ledger) -> Iterator[Ledger]:
    token = _CURRENT.set(ledger)
    try:
        yield ledger
    finally:
        _CURRENT.reset(token)


def activate(ledger: Ledger | None) -> None:
    """Make ``ledger`` the current one (the plugin calls this per test, across its three phases)."""
    _CURRENT.set(ledger)


def arranging() -> bool:
    return bool(current().arranging)
