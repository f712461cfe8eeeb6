"""pytest plugin for the judge's suite runs: stop once the verdict on a mutant is known.

``-x`` would stop at the first *error* too, and a harness error is no verdict: the run would end without
one. This stops the session when

* a test fails a requirement (a product defect: the mutant is killed), or
* the SE under test does not start (``TargetNotReady`` for an SE: killed, it cannot even start), or
* ``SE_MUTANT_MAX_ERRORS`` (default 5) tests ended in harness errors (no verdict is coming).

Loaded with ``-p sampled_mutation.stop_early`` (``bench/`` on ``PYTHONPATH``).
"""

from __future__ import annotations

import os

import pytest

from harness.plugin.reporting import FAILURE_KIND_PROPERTY
from harness.report.outcomes import KIND_DEFECT

SE_NOT_READY = "TargetNotReady: SE "
MAX_ERRORS_ENV = "SE_MUTANT_MAX_ERRORS"
_state: dict[str, object] = {"session": None, "errors": 0}


def pytest_sessionstart(session: pytest.Session) -> None:
    _state["session"] = session


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    session = _state["session"]
    if not report.failed or not isinstance(session, pytest.Session):
        return
    kind = dict(report.user_properties).get(FAILURE_KIND_PROPERTY)
    if kind == KIND_DEFECT:
        session.shouldfail = f"stop_early: {report.nodeid} failed a requirement"
    elif SE_NOT_READY in report.longreprtext:
        session.shouldfail = f"stop_early: the SE did not start ({report.nodeid})"
    else:
        errors = int(str(_state["errors"])) + 1
        _state["errors"] = errors
        if errors >= int(os.environ.get(MAX_ERRORS_ENV, "5")):
            session.shouldfail = f"stop_early: {errors} harness errors, no verdict"
