"""Pure logic: a test's phases → its outcome, tests → a requirement's outcome, outcomes → exit code."""

from __future__ import annotations

import pytest

from harness.report.outcomes import (
    ERROR,
    FAIL,
    KIND_DEFECT,
    KIND_HARNESS,
    PASS,
    SKIPPED,
    UNSUPPORTED,
    WAIVED,
    PhaseResult,
    TestRecord,
    by_requirement,
)
from harness.report.verdict import Checked, decide, no_report

SETUP_OK = PhaseResult("setup", "passed")
TEARDOWN_OK = PhaseResult("teardown", "passed")


def record(*phases: PhaseResult, reqs: tuple[str, ...] = ("SE-X-001",), nodeid: str = "t::a") -> TestRecord:
    return TestRecord(nodeid, reqs, list(phases))


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ((SETUP_OK, PhaseResult("call", "passed"), TEARDOWN_OK), PASS),
        ((SETUP_OK, PhaseResult("call", "failed", failure_kind=KIND_DEFECT), TEARDOWN_OK), FAIL),
        ((SETUP_OK, PhaseResult("call", "failed", failure_kind=KIND_HARNESS), TEARDOWN_OK), ERROR),
        ((SETUP_OK, PhaseResult("call", "failed"), TEARDOWN_OK), ERROR),  # unknown kind: no verdict
        ((PhaseResult("setup", "failed", failure_kind=KIND_HARNESS), TEARDOWN_OK), ERROR),  # TargetNotReady
        ((PhaseResult("setup", "failed", failure_kind=KIND_DEFECT), TEARDOWN_OK), FAIL),  # expect_* in a fixture
        ((SETUP_OK, PhaseResult("call", "passed"), PhaseResult("teardown", "failed", failure_kind=KIND_HARNESS)),
         ERROR),
        ((PhaseResult("setup", "skipped", skip_reason="unsupported: no db facility"), TEARDOWN_OK), UNSUPPORTED),
        ((PhaseResult("setup", "skipped", skip_reason="needs two SEs"), TEARDOWN_OK), SKIPPED),
        ((SETUP_OK, PhaseResult("call", "skipped", failure_kind=KIND_DEFECT, xfail_reason="waived SE-X-001 until"),
          TEARDOWN_OK), WAIVED),
        ((SETUP_OK, PhaseResult("call", "skipped", failure_kind=KIND_HARNESS, xfail_reason="waived SE-X-001"),
          TEARDOWN_OK), ERROR),  # a waiver never hides a harness error
        ((SETUP_OK, PhaseResult("call", "passed", xfail_reason="waived SE-X-001"), TEARDOWN_OK), PASS),  # xpass
        ((SETUP_OK, PhaseResult("call", "skipped", failure_kind=KIND_DEFECT, xfail_reason="suite gap"),
          TEARDOWN_OK), SKIPPED),
        ((SETUP_OK, TEARDOWN_OK), ERROR),  # set up, never ran: interrupted
    ],
)  # fmt: skip
def test_test_outcome(phases: tuple[PhaseResult, ...], expected: str) -> None:
    assert record(*phases).outcome == expected


def test_message_comes_from_the_deciding_phase() -> None:
    rec = record(SETUP_OK, PhaseResult("call", "failed", failure_kind=KIND_DEFECT, message="[SE-X-001] got 500"),
                 TEARDOWN_OK)  # fmt: skip
    assert rec.message == "[SE-X-001] got 500"


@pytest.mark.parametrize(
    ("tests", "expected"),
    [
        ((PASS, PASS), PASS),
        ((PASS, FAIL, ERROR), FAIL),
        ((PASS, ERROR), ERROR),
        ((PASS, WAIVED), WAIVED),
        ((PASS, UNSUPPORTED), PASS),
        ((UNSUPPORTED, UNSUPPORTED), UNSUPPORTED),
        ((UNSUPPORTED, SKIPPED), UNSUPPORTED),
    ],
)
def test_requirement_outcome_is_the_worst(tests: tuple[str, ...], expected: str) -> None:
    phase = {PASS: PhaseResult("call", "passed"), FAIL: PhaseResult("call", "failed", failure_kind=KIND_DEFECT),
             ERROR: PhaseResult("call", "failed", failure_kind=KIND_HARNESS),
             WAIVED: PhaseResult("call", "skipped", xfail_reason="waived X", failure_kind=KIND_DEFECT),
             UNSUPPORTED: PhaseResult("setup", "skipped", skip_reason="unsupported: x"),
             SKIPPED: PhaseResult("setup", "skipped", skip_reason="other")}  # fmt: skip
    records = [record(phase[o], nodeid=f"t::{i}") for i, o in enumerate(tests)]
    grouped, unmapped = by_requirement(records)
    assert grouped["SE-X-001"].outcome == expected
    assert unmapped == []


def test_a_test_with_two_ids_counts_for_both_and_unmapped_are_kept() -> None:
    both = record(PhaseResult("call", "passed"), reqs=("SE-A-001", "SE-B-001"))
    none = record(PhaseResult("call", "passed"), reqs=(), nodeid="t::x")
    grouped, unmapped = by_requirement([both, none])
    assert set(grouped) == {"SE-A-001", "SE-B-001"}
    assert unmapped == [none]


def checked(*items: tuple[str, str]) -> list[Checked]:
    return [Checked(f"SE-X-{i:03d}", level, outcome) for i, (level, outcome) in enumerate(items, 1)]


def test_all_pass_is_conformant() -> None:
    assert decide(checked(("MUST", PASS), ("SHOULD", PASS)), pytest_status=0).exit_code == 0


def test_must_failure_is_not_conformant() -> None:
    verdict = decide(checked(("MUST", FAIL), ("SHOULD", PASS)), pytest_status=1)
    assert verdict.exit_code == 1
    assert [c.id for c in verdict.failures] == ["SE-X-001"]


def test_should_and_may_failures_warn_unless_strict() -> None:
    items = checked(("MUST", PASS), ("SHOULD", FAIL), ("MAY", FAIL))
    lenient = decide(items, pytest_status=1)
    assert lenient.exit_code == 0
    assert [c.id for c in lenient.warnings] == ["SE-X-002", "SE-X-003"]
    assert decide(items, pytest_status=1, strict=True).exit_code == 1


def test_unknown_level_gates_like_must() -> None:
    assert decide(checked(("???", FAIL)), pytest_status=1).exit_code == 1


def test_waived_and_unsupported_do_not_gate() -> None:
    assert decide(checked(("MUST", WAIVED), ("MUST", UNSUPPORTED), ("MUST", PASS)), pytest_status=0).exit_code == 0


@pytest.mark.parametrize("status", [2, 3, 4, 5])
def test_pytest_trouble_is_no_verdict(status: int) -> None:
    assert decide(checked(("MUST", PASS)), pytest_status=status).exit_code == 2
    assert no_report(status, "").exit_code == 2


def test_errors_win_over_failures() -> None:
    verdict = decide(checked(("MUST", FAIL), ("MUST", ERROR)), pytest_status=1)
    assert verdict.exit_code == 2
    assert verdict.failures
    assert verdict.errors


def test_failing_test_without_requirement_is_no_verdict() -> None:
    assert decide(checked(("MUST", PASS)), pytest_status=1, unmapped_outcomes=[FAIL]).exit_code == 2


def test_nothing_checked_is_no_verdict() -> None:
    verdict = decide(checked(("MUST", UNSUPPORTED), ("MUST", SKIPPED)), pytest_status=0)
    assert verdict.exit_code == 2
    assert "no requirement was checked" in verdict.reasons[0]
    assert decide([], pytest_status=0).exit_code == 2
