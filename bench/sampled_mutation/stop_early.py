"""pytest plugin for the judge's suite runs: stop once the verdict on a mutant is known.

``-x`` would stop at the first *error* too, and a harness error is no verdict: the run would end without
one. This stops the session when

* a test fails a requirement (a product defect: the mutant is killed), or
* the SE under test does not start (``TargetNotReady`` for an SE: killed, it cannot even start), or
* ``SE_MUTANT_MAX_ERRORS`` (default 5) tests ended in harness errors (no verdict is coming).

A *blocked* test is no reason to stop: its preparation failed on a request another requirement covers,
and that requirement's own test, still to come, gives the verdict (stopping there left mutants that
break uploads without a verdict).

It also runs the upload tests first. Every other area's tests prepare by uploading, and a failed
preparation blocks its test without a verdict; a mutant that breaks uploads (or makes them hang until
the client's read timeout) would otherwise block test after test, 30 s each, before the upload's own
test comes (a timeout instead of a kill). The order changes no verdict: the tests are independent.

Loaded with ``-p sampled_mutation.stop_early`` (``bench/`` on ``PYTHONPATH``).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from harness.plugin.reporting import FAILURE_KIND_PROPERTY
from harness.report.outcomes import KIND_BLOCKED, KIND_DEFECT

SE_NOT_READY = "TargetNotReady: SE "
MAX_ERRORS_ENV = "SE_MUTANT_MAX_ERRORS"
FIRST = ("suites/files/test_upload.py::",)  # the act most preparations repeat


class _State:
    session: Any = None  # the pytest.Session (anything with ``shouldfail``, in unit tests)
    errors = 0


_state = _State()


def pytest_sessionstart(session: pytest.Session) -> None:
    _state.session = session


def first_things_first(nodeids: list[str]) -> list[int]:
    """The run order, as indices into ``nodeids``: those under ``FIRST`` first, each part in its order."""
    return sorted(range(len(nodeids)), key=lambda i: not nodeids[i].startswith(FIRST))


@pytest.hookimpl(trylast=True)  # after the harness's own selection
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order = first_things_first([item.nodeid for item in items])
    items[:] = [items[i] for i in order]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    session = _state.session
    if not report.failed or session is None:
        return
    kind = dict(report.user_properties).get(FAILURE_KIND_PROPERTY)
    if kind == KIND_BLOCKED:
        return
    if kind == KIND_DEFECT:
        session.shouldfail = f"stop_early: {report.nodeid} failed a requirement"
    elif SE_NOT_READY in report.longreprtext:
        session.shouldfail = f"stop_early: the SE did not start ({report.nodeid})"
    else:
        _state.errors += 1
        if _state.errors >= int(os.environ.get(MAX_ERRORS_ENV, "5")):
            session.shouldfail = f"stop_early: {_state.errors} harness errors, no verdict"
