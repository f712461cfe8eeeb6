"""Unit tests of the sampled mutation score's logic (bench/sampled_mutation): no suite run, no workers."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from tests.mutation import report as json_report
from tests.mutation.execution import SUITE_PID
from tests.mutation.variants import REPO

pytest.importorskip("cosmic_ray")
sys.path.insert(0, str(REPO / "bench"))

from cosmic_ray.mutating import mutate_code
from cosmic_ray.work_item import TestOutcome as Outcome
from cosmic_ray.work_item import WorkerOutcome, WorkResult
from sampled_mutation import judge as judge
from sampled_mutation import procs as procs
from sampled_mutation import results as results
from sampled_mutation import sampling as sampling
from sampled_mutation import stop_early as stop_early
from sampled_mutation import workers as workers
from sampled_mutation.operators import RemoveCall, ReturnNone
from sampled_mutation.paths import Sampling


def _report(*requirements: tuple[str, str, str], unmapped: list[dict[str, Any]] | None = None) -> json_report.Report:
    doc = {
        "requirements": [
            {"id": rid, "outcome": outcome, "tests": [{"nodeid": f"t::{rid}", "outcome": outcome, "message": msg}]}
            for rid, outcome, msg in requirements
        ],
        "unmapped_tests": unmapped or [],
    }
    return json_report.parse(doc)


NOT_READY = "harness.errors.TargetNotReady: SE main_s1 (python -m reference_service) did not become ready"
PG_DOWN = "harness.errors.TargetNotReady: PostgreSQL on 127.0.0.1:5 exited before accepting queries"


@pytest.mark.parametrize(
    ("report", "returncode", "verdict"),
    [
        (_report(("SE-A-001", "pass", ""), ("SE-A-002", "unsupported", "")), 0, judge.SURVIVED),
        (_report(("SE-A-001", "pass", ""), ("SE-A-002", "blocked", "not checked")), 0, judge.NO_VERDICT),
        (_report(("SE-A-001", "fail", "expected 201"), ("SE-A-002", "error", "KeyError")), 1, judge.KILLED),
        (_report(("SE-A-001", "error", NOT_READY), ("SE-A-002", "blocked", "")), 1, judge.KILLED),
        (_report(("SE-A-001", "error", PG_DOWN)), 1, judge.NO_VERDICT),
        (_report(("SE-A-001", "error", NOT_READY), ("SE-A-002", "error", "KeyError: 'id'")), 1, judge.NO_VERDICT),
        (_report(("SE-A-001", "pass", ""), ("SE-A-002", "blocked", "arrangement failed")), 1, judge.NO_VERDICT),
        (_report(), 0, judge.NO_VERDICT),
        (_report(("SE-A-001", "pass", ""), unmapped=[{"nodeid": "x", "outcome": "fail"}]), 1, judge.NO_VERDICT),
    ],
    ids=["passed", "not-checked", "failed", "does-not-start", "postgres", "mixed-errors", "blocked", "empty",
         "unmapped"],
)  # fmt: skip
def test_judge_decides(report: json_report.Report, returncode: int, verdict: str) -> None:
    assert judge.decide(report, returncode).verdict == verdict


@pytest.mark.parametrize(
    ("output", "cause"),
    [
        ("....\nERROR suites/x.py::t - OSError\n1 error in 3s\n", "ERROR suites/x.py::t - OSError"),
        ("....\nsession teardown\nexit 1\n", ".... | session teardown | exit 1"),
        ("", "no output"),
    ],
)
def test_a_run_failed_outside_every_test_says_what_pytest_said(output: str, cause: str) -> None:
    assert judge.exit_cause(output) == cause


def test_a_run_that_failed_in_pytest_but_not_in_the_report_says_where_the_tests_ended_up() -> None:
    report = _report(("SE-A-001", "pass", ""))
    output = "FAILED t::SE-A-001 - boom\nERROR suites/y.py::u - OSError\n1 failed, 1 error\n"
    said = judge.report_of_named(output, report)
    assert said == "suites/y.py::u: not in the report; t::SE-A-001: SE-A-001 pass"


def _result(test: Outcome | None, output: str, worker: WorkerOutcome = WorkerOutcome.NORMAL) -> WorkResult:
    return WorkResult(worker_outcome=worker, output=output, test_outcome=test)


def _verdict(name: str) -> str:
    return f"se-mutant-verdict: {name}\nseconds: 3.0\n"


@pytest.mark.parametrize(
    ("result", "stored", "status"),
    [
        (_result(Outcome.KILLED, _verdict("killed")), Outcome.KILLED, judge.KILLED),
        (_result(Outcome.KILLED, _verdict("timeout")), Outcome.KILLED, judge.TIMEOUT),
        (_result(Outcome.KILLED, "timeout"), Outcome.KILLED, judge.TIMEOUT),  # the engine's backstop
        (_result(Outcome.KILLED, _verdict("no-verdict")), Outcome.INCOMPETENT, judge.NO_VERDICT),
        (_result(Outcome.KILLED, "Traceback ...\nImportError"), Outcome.INCOMPETENT, judge.NO_VERDICT),
        (_result(Outcome.SURVIVED, _verdict("survived")), Outcome.SURVIVED, judge.SURVIVED),
        (_result(None, "connection refused", WorkerOutcome.ABNORMAL), None, results.ERROR),
    ],
)
def test_results_are_stored_and_read_back(result: WorkResult, stored: Outcome | None, status: str) -> None:
    kept = workers.recorded(result)
    assert kept.test_outcome == stored
    assert results._status(kept) == status


def test_allocation_is_proportional_with_a_minimum() -> None:
    population = {"a.py": 1000, "b.py": 100, "c.py": 2, "d.py": 10}
    counts = sampling.allocate(population, Sampling(seed=1, size=100, min_per_module=3))
    assert counts["c.py"] == 2  # capped at what it has
    assert counts["d.py"] == 3  # the minimum
    assert counts["a.py"] > counts["b.py"] > counts["d.py"]
    assert counts == {"a.py": 89, "b.py": 8, "c.py": 2, "d.py": 3}  # the minimums come on top of the shares
    assert sum(sampling.allocate(population, Sampling(seed=1, size=100, min_per_module=0)).values()) == 100


def test_scores_exclude_equivalent_unobservable_and_permitted_survivors() -> None:
    tally = results.Tally()
    review = results.Review("m.py", 1, "op", 0, results.EQUIVALENT, "same")
    permitted = results.Review("m.py", 2, "op", 1, results.PERMITTED, "the contract allows both")
    added = results.Review("m.py", 3, "op", 2, results.TEST_ADDED, "t::x")
    runs = [(judge.KILLED, None)] * 8 + [(judge.SURVIVED, review), (judge.SURVIVED, None)]
    runs += [(judge.SURVIVED, permitted), (judge.SURVIVED, added)]
    runs += [(judge.TIMEOUT, None), (judge.NO_VERDICT, None)]
    for status, reviewed in runs:
        tally.add(results.Item("j", "m.py", 1, "op", 0, "", status, review=reviewed))
    # 8 killed + 1 timeout + 4 survived - 1 equivalent - 1 permitted; test-added counts until re-run
    assert tally.denominator == 11
    assert tally.score == pytest.approx(8 / 11)
    assert tally.as_dict()["unreviewed"] == 1


def test_requeue_drops_only_the_named_survivors(tmp_path: Any) -> None:
    import sqlite3

    db = tmp_path / "session.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE work_results (worker_outcome TEXT, test_outcome TEXT, job_id TEXT)")
        rows = [("NORMAL", "SURVIVED", "a"), ("NORMAL", "SURVIVED", "b"), ("NORMAL", "KILLED", "c")]
        conn.executemany("INSERT INTO work_results VALUES (?, ?, ?)", rows)
    assert workers.requeue(db, no_verdict=False, survivors=False, jobs=["a", "c"]) == 1  # c was killed: kept
    with sqlite3.connect(db) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT job_id FROM work_results")) == ["b", "c"]


def test_requeue_drops_the_timeouts_only_when_asked(tmp_path: Any) -> None:
    import sqlite3

    db = tmp_path / "session.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE work_results (worker_outcome TEXT, test_outcome TEXT, job_id TEXT, output TEXT)")
        rows = [
            ("NORMAL", "KILLED", "judge-timeout", "se-mutant-verdict: timeout\nrequirements: -\n"),
            ("NORMAL", "KILLED", "engine-timeout", "timeout"),
            ("NORMAL", "KILLED", "killed", "se-mutant-verdict: killed\nwhy: the suite run timed out once\n"),
        ]
        conn.executemany("INSERT INTO work_results VALUES (?, ?, ?, ?)", rows)
    assert workers.requeue(db, no_verdict=False, survivors=False) == 0
    assert workers.requeue(db, no_verdict=False, survivors=False, timeouts=True) == 2
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT job_id FROM work_results")] == ["killed"]


def test_the_upload_tests_run_first_and_every_part_keeps_its_order() -> None:
    nodeids = ["suites/auth/test_a.py::t1", "suites/files/test_upload.py::u1", "suites/auth/test_a.py::t2",
               "suites/files/test_upload.py::u2", "suites/files/test_uploads_more.py::x"]  # fmt: skip
    assert [nodeids[i] for i in stop_early.first_things_first(nodeids)] == [
        "suites/files/test_upload.py::u1", "suites/files/test_upload.py::u2",
        "suites/auth/test_a.py::t1", "suites/auth/test_a.py::t2", "suites/files/test_uploads_more.py::x",
    ]  # fmt: skip


def _spawn(record: Any, code: str) -> subprocess.Popen[bytes]:
    """A python process in a session of its own (as the judge, its pytest and the SEs run), recorded."""
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    record.parent.mkdir(parents=True, exist_ok=True)
    procs.record(record, proc.pid)
    return proc


def test_stopping_judges_ends_the_suite_run_of_a_judge_that_would_not_stop(tmp_path: Any) -> None:
    run = tmp_path / procs.JUDGES / "run-1"
    sleeper = "import time; time.sleep(60)"
    started = [
        # ends only by SIGKILL, so it never stops its suite run itself
        _spawn(run / "judge.pid", "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + sleeper),
        _spawn(run / SUITE_PID, sleeper),
        _spawn(run / "state" / "r1" / "procs" / "se-main.pid", sleeper),
    ]
    try:
        procs.stop_judges(tmp_path, grace_s=1.0)
        left = []
        for proc in started:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                left.append(proc.args)
        assert left == [], "stop_judges left these running"
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("operator", "before", "after"),
    [
        (RemoveCall(), "def f():\n    session.add(row)\n    return 1\n", "def f():\n    None\n    return 1\n"),
        (RemoveCall(), "async def f():\n    await g()\n", "async def f():\n    None\n"),
        (RemoveCall(), "x = f()\n", None),
        (ReturnNone(), "def f():\n    return a + 1\n", "def f():\n    return None\n"),
        (ReturnNone(), "def f():\n    return None\n", None),
    ],
)
def test_our_operators(operator: Any, before: str, after: str | None) -> None:
    assert mutate_code(before, operator, 0) == after


def test_binary_operators_in_annotations_are_recognised() -> None:
    import parso

    tree = parso.parse("def f(a: int | None, b=x | y) -> str | None:\n    c: int | None = d | e\n")
    assert sampling._in_annotation(tree, (1, 13))  # a: int | None
    assert not sampling._in_annotation(tree, (1, 27))  # b=x | y
    assert sampling._in_annotation(tree, (1, 40))  # -> str | None
    assert sampling._in_annotation(tree, (2, 11))  # c: int | None
    assert not sampling._in_annotation(tree, (2, 22))  # = d | e


def _logreport(kind: str | None, text: str = "") -> pytest.TestReport:
    props = [("failure_kind", kind)] if kind else []
    return pytest.TestReport("t::x", ("t", 1, "x"), {}, "failed", text, "call", user_properties=props)


@pytest.mark.parametrize(
    ("kinds", "stops"),
    [
        (["product-defect"], True),
        (["blocked"] * 10, False),  # the blocking requirement's own test gives the verdict later
        (["harness-error"] * 4, False),
        (["harness-error"] * 5, True),
        (["blocked", "harness-error", "blocked", "harness-error"], False),
    ],
    ids=["defect", "blocked-never", "errors-below-limit", "errors-at-limit", "blocked-not-counted"],
)
def test_stop_early_stops_on_a_defect_or_errors_never_on_blocked(kinds: list[str], stops: bool) -> None:
    session = SimpleNamespace(shouldfail=False)  # only shouldfail matters; a real Session needs a config
    stop_early._state.session, stop_early._state.errors = session, 0
    for kind in kinds:
        stop_early.pytest_runtest_logreport(_logreport(kind))
    assert bool(session.shouldfail) is stops
