"""Outcomes: one test's phases and checks → the test's outcome and, per requirement, what it showed.

Pure logic, no pytest objects: the plugin turns reports into ``PhaseResult`` values and feeds them here.

The requirement, not the test, is the unit of the report. A test records its checks in a ledger
(``harness.ledger``): each check names one requirement and passed or failed. A test stops at its first
failed check. So, for each requirement a test names (its ``req`` marker) or checked:

* **fail** — the failed check was this requirement's (``transport`` when the SE broke the protocol);
* **waived** — the same, while a waiver covers this requirement (and only it);
* **pass** — at least one check of it passed and none failed;
* **blocked** — a preparation failed (a check under ``arrange``, a fixture, a table the SE never
  created) before any check of it ran: no verdict from this test;
* **not checked** — the test stopped at another requirement's failed check before reaching it;
* **error** — the harness could not finish the test (its own bug, Docker, its PostgreSQL, a refused
  connection): no verdict for the requirements it had not failed;
* **unsupported** / **skipped** — the test did not run (missing facility or capability / other reason).

A requirement's outcome is the worst over all its tests, in the order fail > error > waived > pass >
blocked > unsupported > skipped, where *not checked* counts as blocked: pass needs one passed check, and
a requirement whose checks never ran is reported blocked, never passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PASS = "pass"
FAIL = "fail"
ERROR = "error"
WAIVED = "waived"
BLOCKED = "blocked"
UNSUPPORTED = "unsupported"
SKIPPED = "skipped"
NOT_CHECKED = "not-checked"  # per test only; a requirement with nothing but these is blocked
# Worst first: the order in which one requirement outcome overrides another.
SEVERITY_ORDER = (FAIL, ERROR, WAIVED, PASS, BLOCKED, UNSUPPORTED, SKIPPED)
# A test's own outcome: a blocked phase outranks a passed one (the test did not do its job).
TEST_ORDER = (FAIL, ERROR, WAIVED, BLOCKED, PASS, UNSUPPORTED, SKIPPED)
OUTCOMES = (PASS, FAIL, ERROR, WAIVED, BLOCKED, UNSUPPORTED, SKIPPED)  # display order

UNSUPPORTED_PREFIX = "unsupported: "  # harness.plugin.selection.UNSUPPORTED
WAIVED_PREFIX = "waived"  # harness.plugin.reporting waives a failed check

# What a raised exception means, decided where the exception object exists (the worker).
KIND_DEFECT = "product-defect"
KIND_BLOCKED = "blocked"
KIND_HARNESS = "harness-error"
NOT_FINISHED = "the test did not finish (the run was interrupted)"


def _worst(outcomes: Iterable[str], order: tuple[str, ...]) -> str | None:
    ranked = sorted(outcomes, key=order.index)
    return ranked[0] if ranked else None


def worst(outcomes: Iterable[str]) -> str | None:
    """The worst requirement outcome (``not checked`` counts as blocked)."""
    return _worst((BLOCKED if o == NOT_CHECKED else o for o in outcomes), SEVERITY_ORDER)


@dataclass(frozen=True)
class PhaseResult:
    """One phase (setup, call or teardown) of one test, as pytest reported it, with its checks."""

    when: str
    outcome: str  # pytest's: passed, failed, skipped
    duration: float = 0.0
    failure_kind: str | None = None  # KIND_* when an exception was raised
    xfail_reason: str | None = None  # report.wasxfail
    skip_reason: str = ""
    message: str = ""
    passed_checks: tuple[str, ...] = ()  # requirements with a passed check in this phase (not preparing)
    failed_check: str | None = None  # the requirement whose failed check ended the phase
    failed_label: str | None = None  # "check" or "transport"


def phase_outcome(phase: PhaseResult) -> str | None:
    """The outcome one phase contributes to its test; ``None`` for a setup or teardown that simply passed."""
    if phase.xfail_reason is not None:
        if phase.outcome == "passed":  # xpass (non-strict)
            return PASS
        if phase.failure_kind == KIND_HARNESS:
            return ERROR
        # An xfail that is no waiver is the suite's own known gap: nothing was checked.
        return WAIVED if phase.xfail_reason.startswith(WAIVED_PREFIX) else SKIPPED
    if phase.outcome == "passed":
        return PASS if phase.when == "call" else None
    if phase.outcome == "skipped":
        return UNSUPPORTED if phase.skip_reason.startswith(UNSUPPORTED_PREFIX) else SKIPPED
    if phase.failure_kind == KIND_DEFECT:
        return FAIL
    if phase.failure_kind == KIND_BLOCKED:
        return BLOCKED
    return ERROR


@dataclass
class TestRecord:
    """Everything the report keeps about one test (a pytest item)."""

    __test__ = False  # not a pytest test class

    nodeid: str
    requirements: tuple[str, ...] = ()
    phases: list[PhaseResult] = field(default_factory=list)
    worker: str | None = None

    @property
    def outcome(self) -> str:
        decided = _worst((o for o in map(phase_outcome, self.phases) if o is not None), TEST_ORDER)
        # Set up but never ran (the run was interrupted): no verdict for it.
        return decided or (ERROR if self.phases else SKIPPED)

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.phases)

    @property
    def message(self) -> str:
        """The message of the phase that decided the outcome (failure text, skip or waiver reason)."""
        outcome = self.outcome
        for phase in self.phases:
            if phase_outcome(phase) == outcome:
                return phase.message or phase.skip_reason or (phase.xfail_reason or "")
        return NOT_FINISHED if outcome == ERROR else ""

    @property
    def passed(self) -> frozenset[str]:
        return frozenset(r for p in self.phases for r in p.passed_checks)

    def _verdict_phase(self, req: str) -> PhaseResult | None:
        """The phase whose failed check was ``req``'s and counts as its verdict (failed or waived)."""
        for phase in self.phases:
            if phase.failed_check == req and phase_outcome(phase) in (FAIL, WAIVED):
                return phase
        return None

    @property
    def checked(self) -> tuple[str, ...]:
        """Every requirement this test says something about: its marker's, then any other it checked."""
        failed = [p.failed_check for p in self.phases if p.failed_check and self._verdict_phase(p.failed_check)]
        extra = sorted((set(failed) | self.passed) - set(self.requirements))
        return (*self.requirements, *extra)

    def outcome_for(self, req: str) -> str:
        """What this test showed about one requirement (see the module docstring)."""
        phase = self._verdict_phase(req)
        if phase is not None:
            return phase_outcome(phase) or FAIL
        if req not in self.requirements:  # only checked in passing (a helper's check): what it showed
            return PASS if req in self.passed else NOT_CHECKED
        test = self.outcome
        if test in (UNSUPPORTED, SKIPPED, ERROR):
            return test
        if req in self.passed:
            return PASS
        return BLOCKED if test == BLOCKED else NOT_CHECKED

    def message_for(self, req: str) -> str:
        outcome = self.outcome_for(req)
        phase = self._verdict_phase(req)
        if phase is not None:
            return phase.message or (phase.xfail_reason or "")
        if outcome == NOT_CHECKED:
            stopped = next((p.failed_check for p in self.phases if p.failed_check), None)
            return f"not checked: the test stopped at a failed check of {stopped}" if stopped else "not checked"
        return "" if outcome == PASS else self.message

    def label_for(self, req: str) -> str | None:
        phase = self._verdict_phase(req)
        return phase.failed_label if phase is not None else None


@dataclass
class RequirementResult:
    id: str
    tests: list[TestRecord] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return worst(t.outcome_for(self.id) for t in self.tests) or SKIPPED

    @property
    def duration(self) -> float:
        return sum(t.duration for t in self.tests)


def by_requirement(records: Iterable[TestRecord]) -> tuple[dict[str, RequirementResult], list[TestRecord]]:
    """Group tests by requirement ID (every ID a test names or checked); also the tests without one."""
    grouped: dict[str, RequirementResult] = {}
    unmapped: list[TestRecord] = []
    for record in records:
        checked = record.checked
        if not checked:
            unmapped.append(record)
        for req in checked:
            grouped.setdefault(req, RequirementResult(req)).tests.append(record)
    return dict(sorted(grouped.items())), unmapped


def count(outcomes: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        counts[BLOCKED if outcome == NOT_CHECKED else outcome] += 1
    return counts
