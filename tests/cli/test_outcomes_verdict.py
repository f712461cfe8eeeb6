"""Pure logic: a test's phases and checks → its outcome and what it showed per requirement; tests → a
requirement's outcome; outcomes → exit code."""

from __future__ import annotations

import pytest

from harness.report.outcomes import (
    BLOCKED,
    ERROR,
    FAIL,
    KIND_BLOCKED,
    KIND_DEFECT,
    KIND_HARNESS,
    NOT_CHECKED,
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
A, B, C = "SE-A-001", "SE-B-001", "SE-C-001"


def record(*phases: PhaseResult, reqs: tuple[str, ...] = (A,), nodeid: str = "t::a") -> TestRecord:
    return TestRecord(nodeid, reqs, [SETUP_OK, *phases, TEARDOWN_OK])


def passed(*reqs: str) -> PhaseResult:
    return PhaseResult("call", "passed", passed_checks=reqs)


def failed(req: str, *passed_before: str, label: str = "check") -> PhaseResult:
    return PhaseResult("call", "failed", failure_kind=KIND_DEFECT, failed_check=req, failed_label=label,
                       passed_checks=passed_before, message=f"[{req}] got 500")  # fmt: skip


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ((SETUP_OK, passed(A), TEARDOWN_OK), PASS),
        ((SETUP_OK, failed(A), TEARDOWN_OK), FAIL),
        ((SETUP_OK, PhaseResult("call", "failed", failure_kind=KIND_HARNESS), TEARDOWN_OK), ERROR),
        ((SETUP_OK, PhaseResult("call", "failed"), TEARDOWN_OK), ERROR),  # unknown kind: no verdict
        ((PhaseResult("setup", "failed", failure_kind=KIND_HARNESS), TEARDOWN_OK), ERROR),  # TargetNotReady
        ((PhaseResult("setup", "failed", failure_kind=KIND_BLOCKED), TEARDOWN_OK), BLOCKED),  # expect_* in a fixture
        ((SETUP_OK, PhaseResult("call", "failed", failure_kind=KIND_BLOCKED), TEARDOWN_OK), BLOCKED),  # arrange()
        ((SETUP_OK, passed(A), PhaseResult("teardown", "failed", failure_kind=KIND_HARNESS)), ERROR),
        ((PhaseResult("setup", "skipped", skip_reason="unsupported: no db facility"), TEARDOWN_OK), UNSUPPORTED),
        ((PhaseResult("setup", "skipped", skip_reason="needs two SEs"), TEARDOWN_OK), SKIPPED),
        ((SETUP_OK, PhaseResult("call", "skipped", failure_kind=KIND_DEFECT, failed_check=A,
                                xfail_reason="waived SE-A-001 until"), TEARDOWN_OK), WAIVED),
        ((SETUP_OK, PhaseResult("call", "skipped", failure_kind=KIND_HARNESS, xfail_reason="waived SE-A-001"),
          TEARDOWN_OK), ERROR),  # a waiver never hides a harness error
        ((SETUP_OK, PhaseResult("call", "skipped", failure_kind=KIND_DEFECT, xfail_reason="suite gap"),
          TEARDOWN_OK), SKIPPED),
        ((SETUP_OK, TEARDOWN_OK), ERROR),  # set up, never ran: interrupted
    ],
)  # fmt: skip
def test_test_outcome(phases: tuple[PhaseResult, ...], expected: str) -> None:
    assert TestRecord("t::a", (A,), list(phases)).outcome == expected


def test_a_failed_check_fails_only_its_own_requirement() -> None:
    """The issue's SE-DB-017/018 case: the 018 check fails; 017 passed before it; 019 never ran."""
    rec = record(failed(B, A), reqs=(A, B, C))
    assert (rec.outcome_for(A), rec.outcome_for(B), rec.outcome_for(C)) == (PASS, FAIL, NOT_CHECKED)
    assert rec.message_for(B) == f"[{B}] got 500"
    assert B in rec.message_for(C)  # "not checked: the test stopped at a failed check of SE-B-001"


def test_a_should_check_first_leaves_the_musts_unjudged() -> None:
    """SE-DUR-001 was failed by SE-DUR-003's check that ran first: now it is only not checked."""
    grouped, _ = by_requirement([record(failed(C), reqs=(A, B, C))])
    assert {k: v.outcome for k, v in grouped.items()} == {A: BLOCKED, B: BLOCKED, C: FAIL}


def test_a_blocked_test_gives_no_verdict_to_unchecked_requirements() -> None:
    rec = record(PhaseResult("call", "failed", failure_kind=KIND_BLOCKED, passed_checks=(A,)), reqs=(A, B))
    assert (rec.outcome_for(A), rec.outcome_for(B)) == (PASS, BLOCKED)


def test_a_harness_error_fails_nothing() -> None:
    rec = record(PhaseResult("call", "failed", failure_kind=KIND_HARNESS, passed_checks=(A,)), reqs=(A, B))
    assert (rec.outcome_for(A), rec.outcome_for(B)) == (ERROR, ERROR)


def test_checks_of_requirements_outside_the_marker_count_for_them_only() -> None:
    helper = record(failed(C, B), reqs=(A,))
    assert helper.checked == (A, B, C)
    assert (helper.outcome_for(A), helper.outcome_for(B), helper.outcome_for(C)) == (NOT_CHECKED, PASS, FAIL)


def test_transport_faults_are_labelled() -> None:
    rec = record(failed(A, label="transport"))
    assert (rec.outcome_for(A), rec.label_for(A)) == (FAIL, "transport")


def test_a_waiver_covers_only_its_own_requirement() -> None:
    waived = PhaseResult("call", "skipped", failure_kind=KIND_DEFECT, failed_check=B, passed_checks=(A,),
                         xfail_reason=f"waived {B} until 2099-01-01: later")  # fmt: skip
    rec = record(waived, reqs=(A, B, C))
    assert (rec.outcome_for(A), rec.outcome_for(B), rec.outcome_for(C)) == (PASS, WAIVED, NOT_CHECKED)


def test_message_comes_from_the_deciding_phase() -> None:
    assert record(failed(A)).message == f"[{A}] got 500"


@pytest.mark.parametrize(
    ("tests", "expected"),
    [
        ((PASS, PASS), PASS),
        ((PASS, FAIL, ERROR), FAIL),
        ((PASS, ERROR), ERROR),
        ((PASS, WAIVED), WAIVED),
        ((PASS, UNSUPPORTED), PASS),
        ((PASS, BLOCKED), PASS),
        ((BLOCKED, UNSUPPORTED), BLOCKED),
        ((NOT_CHECKED, NOT_CHECKED), BLOCKED),  # no check of it ever ran: never a pass
        ((UNSUPPORTED, UNSUPPORTED), UNSUPPORTED),
        ((UNSUPPORTED, SKIPPED), UNSUPPORTED),
    ],
)
def test_requirement_outcome_is_the_worst(tests: tuple[str, ...], expected: str) -> None:
    phase = {PASS: passed(A), FAIL: failed(A), NOT_CHECKED: failed(B),
             ERROR: PhaseResult("call", "failed", failure_kind=KIND_HARNESS),
             BLOCKED: PhaseResult("call", "failed", failure_kind=KIND_BLOCKED),
             WAIVED: PhaseResult("call", "skipped", xfail_reason="waived X", failure_kind=KIND_DEFECT, failed_check=A),
             UNSUPPORTED: PhaseResult("setup", "skipped", skip_reason="unsupported: x"),
             SKIPPED: PhaseResult("setup", "skipped", skip_reason="other")}  # fmt: skip
    records = [TestRecord(f"t::{i}", (A,), [phase[o]]) for i, o in enumerate(tests)]
    grouped, unmapped = by_requirement(records)
    assert grouped[A].outcome == expected
    assert unmapped == []


def test_a_test_with_two_ids_counts_for_both_and_unmapped_are_kept() -> None:
    both = record(passed(A, B), reqs=(A, B))
    none = record(passed(), reqs=(), nodeid="t::x")
    grouped, unmapped = by_requirement([both, none])
    assert set(grouped) == {A, B}
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


def test_a_proven_failure_outranks_errors() -> None:
    verdict = decide(checked(("MUST", FAIL), ("MUST", ERROR), ("MUST", BLOCKED)), pytest_status=2)
    assert verdict.exit_code == 1
    assert verdict.failures
    assert verdict.errors
    assert verdict.blocked
    assert any("harness error" in r for r in verdict.reasons)  # listed, not erased


def test_errors_without_failures_are_no_verdict() -> None:
    assert decide(checked(("MUST", PASS), ("SHOULD", ERROR)), pytest_status=1).exit_code == 2


def test_a_blocked_must_is_no_verdict_a_blocked_should_only_under_strict() -> None:
    assert decide(checked(("MUST", PASS), ("MUST", BLOCKED)), pytest_status=1).exit_code == 2
    should = checked(("MUST", PASS), ("SHOULD", BLOCKED))
    assert decide(should, pytest_status=1).exit_code == 0
    assert decide(should, pytest_status=1, strict=True).exit_code == 2


def test_failing_test_without_requirement_is_no_verdict() -> None:
    assert decide(checked(("MUST", PASS)), pytest_status=1, unmapped_outcomes=[FAIL]).exit_code == 2


def test_nothing_checked_is_no_verdict() -> None:
    verdict = decide(checked(("MUST", UNSUPPORTED), ("MUST", SKIPPED)), pytest_status=0)
    assert verdict.exit_code == 2
    assert "no requirement was checked" in verdict.reasons[0]
    assert decide([], pytest_status=0).exit_code == 2
