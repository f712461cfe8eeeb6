"""Conformant or not, and the exit code of ``se-conformance run``. Pure logic.

Exit codes — each has one meaning, never mixed up:

* **0** conformant: every MUST requirement that was checked passed (or is waived). SHOULD and MAY
  failures are printed as warnings; with ``--strict`` they fail the gate too.
* **1** not conformant: at least one MUST requirement failed (with ``--strict``: any requirement).
* **2** no verdict: a configuration, preflight or harness problem — pytest usage error (4), internal error
  (3), interrupted (2, also Ctrl-C/SIGTERM), nothing collected (5), no report written, a harness error in
  any test (outcome ``error``), a failing test without requirement ID, or no requirement checked at all.
  A run with both failures and errors exits 2: its failures are listed, but the run must be repeated
  once the harness problem is fixed before its verdict counts.

A requirement ID missing from the catalogue is treated as MUST.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.report.outcomes import ERROR, FAIL, PASS, WAIVED

EXIT_CONFORMANT = 0
EXIT_NOT_CONFORMANT = 1
EXIT_NO_VERDICT = 2

PYTEST_OK = 0
PYTEST_TESTS_FAILED = 1
PYTEST_EXIT_MEANING = {
    2: "the run was interrupted (Ctrl-C, SIGTERM, or errors during collection)",
    3: "pytest hit an internal error",
    4: "pytest refused the options (usage error) or the target could not be brought up",
    5: "no tests were collected",
}
GATING_LEVELS = ("MUST",)
STRICT_GATING_LEVELS = ("MUST", "SHOULD", "MAY")


@dataclass(frozen=True)
class Checked:
    """One requirement's result as the verdict needs it."""

    id: str
    level: str
    outcome: str


@dataclass
class Verdict:
    exit_code: int
    reasons: list[str] = field(default_factory=list)  # why not 0, in words
    failures: list[Checked] = field(default_factory=list)  # failed requirements that gate
    warnings: list[Checked] = field(default_factory=list)  # failed requirements that do not gate
    errors: list[Checked] = field(default_factory=list)

    @property
    def conformant(self) -> bool:
        return self.exit_code == EXIT_CONFORMANT


def decide(
    checked: Iterable[Checked],
    *,
    pytest_status: int | None,
    unmapped_outcomes: Iterable[str] = (),
    strict: bool = False,
) -> Verdict:
    """The verdict of a run from its requirement outcomes and pytest's exit status.

    ``pytest_status`` is ``None`` when it is not known (e.g. the report is read back on its own).
    """
    results = list(checked)
    gating = STRICT_GATING_LEVELS if strict else GATING_LEVELS
    verdict = Verdict(EXIT_CONFORMANT)
    for item in results:
        if item.outcome == FAIL:
            level = item.level if item.level in STRICT_GATING_LEVELS else "MUST"
            (verdict.failures if level in gating else verdict.warnings).append(item)
        elif item.outcome == ERROR:
            verdict.errors.append(item)
    if pytest_status is not None and pytest_status not in (PYTEST_OK, PYTEST_TESTS_FAILED):
        verdict.reasons.append(PYTEST_EXIT_MEANING.get(pytest_status, f"pytest exited with {pytest_status}"))
    if verdict.errors:
        verdict.reasons.append(f"{len(verdict.errors)} requirement(s) hit a harness error, so no verdict")
    bad_unmapped = [o for o in unmapped_outcomes if o in (FAIL, ERROR)]
    if bad_unmapped:
        verdict.reasons.append(f"{len(bad_unmapped)} test(s) without a requirement ID failed or errored")
    if not any(r.outcome in (PASS, FAIL, WAIVED) for r in results) and not verdict.reasons:
        verdict.reasons.append("no requirement was checked (everything deselected, skipped or unsupported)")
    if verdict.reasons:
        verdict.exit_code = EXIT_NO_VERDICT
    elif verdict.failures:
        verdict.exit_code = EXIT_NOT_CONFORMANT
        levels = "" if strict else "MUST "
        verdict.reasons.append(f"{len(verdict.failures)} {levels}requirement(s) failed")
    return verdict


def no_report(pytest_status: int, detail: str) -> Verdict:
    """The verdict when pytest ended without writing the report."""
    meaning = PYTEST_EXIT_MEANING.get(pytest_status, f"pytest exited with {pytest_status}")
    return Verdict(EXIT_NO_VERDICT, reasons=[meaning, detail] if detail else [meaning])
