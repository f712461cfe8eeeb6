"""Outcomes: one test's phases → the test's outcome; a requirement's tests → the requirement's outcome.

Pure logic, no pytest objects: the plugin turns reports into ``PhaseResult`` values and feeds them here.

Rules (also in docs/cli.md):

* **fail** — an assertion failed: ``ConformanceFailure`` (harness.expect), a plain ``AssertionError`` or
  ``pytest.fail``; in the test or in a fixture. A product defect.
* **error** — anything else raised (``HarnessError``, ``TargetNotReady``, ``httpx.ConnectError``, a
  ``KeyError`` in test code, ...), in setup, call or teardown. The harness could not reach a verdict.
* **waived** — the test failed on an assertion while its requirement is waived (non-strict xfail whose
  reason starts with ``waived``). A waived test that passes is a **pass**.
* **unsupported** — skipped with a reason starting ``unsupported: `` (missing facility or capability).
* **skipped** — skipped for any other reason.
* **pass** — everything else that ran.

A requirement's outcome is the worst of its tests' in the order fail > error > waived > pass >
unsupported > skipped: one failed test fails it; it is unsupported only when all its tests were.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PASS = "pass"
FAIL = "fail"
ERROR = "error"
WAIVED = "waived"
UNSUPPORTED = "unsupported"
SKIPPED = "skipped"
# Worst first: the order in which one outcome overrides another.
SEVERITY_ORDER = (FAIL, ERROR, WAIVED, PASS, UNSUPPORTED, SKIPPED)
OUTCOMES = (PASS, FAIL, ERROR, WAIVED, UNSUPPORTED, SKIPPED)  # display order

UNSUPPORTED_PREFIX = "unsupported: "  # harness.plugin.selection.UNSUPPORTED
WAIVED_PREFIX = "waived"  # harness.plugin.selection.apply_waivers

# What a raised exception means, decided where the exception object exists (the worker).
KIND_DEFECT = "product-defect"
KIND_HARNESS = "harness-error"
NOT_FINISHED = "the test did not finish (the run was interrupted)"


def worst(outcomes: Iterable[str]) -> str | None:
    ranked = sorted(outcomes, key=SEVERITY_ORDER.index)
    return ranked[0] if ranked else None


@dataclass(frozen=True)
class PhaseResult:
    """One phase (setup, call or teardown) of one test, as pytest reported it."""

    when: str
    outcome: str  # pytest's: passed, failed, skipped
    duration: float = 0.0
    failure_kind: str | None = None  # KIND_DEFECT / KIND_HARNESS when an exception was raised
    xfail_reason: str | None = None  # report.wasxfail
    skip_reason: str = ""
    message: str = ""


def phase_outcome(phase: PhaseResult) -> str | None:
    """The outcome one phase contributes; ``None`` for a setup or teardown that simply passed."""
    if phase.xfail_reason is not None:
        if phase.outcome == "passed":  # xpass (non-strict): the waived requirement is met after all
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
        decided = worst(o for o in map(phase_outcome, self.phases) if o is not None)
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


@dataclass
class RequirementResult:
    id: str
    tests: list[TestRecord] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return worst(t.outcome for t in self.tests) or SKIPPED

    @property
    def duration(self) -> float:
        return sum(t.duration for t in self.tests)


def by_requirement(records: Iterable[TestRecord]) -> tuple[dict[str, RequirementResult], list[TestRecord]]:
    """Group tests by requirement ID (a test with two IDs counts for both); also the tests without one."""
    grouped: dict[str, RequirementResult] = {}
    unmapped: list[TestRecord] = []
    for record in records:
        if not record.requirements:
            unmapped.append(record)
        for req in record.requirements:
            grouped.setdefault(req, RequirementResult(req)).tests.append(record)
    return dict(sorted(grouped.items())), unmapped


def count(outcomes: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        counts[outcome] += 1
    return counts
