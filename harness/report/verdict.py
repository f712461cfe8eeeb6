"""Conformant or not, and the exit code of ``se-conformance run``. Pure logic.

Exit codes — each has one meaning, never mixed up:

* **0** conformant: every MUST requirement passed (or is waived). SHOULD and MAY failures are printed
  as warnings; with ``--strict`` they fail the gate too.
* **1** not conformant: at least one MUST requirement failed (with ``--strict``: any requirement). A
  proven failure stands whatever else happened in the run: harness errors, blocked requirements and an
  interrupted run are listed beside it, they do not erase it.
* **2** no verdict: no gating requirement failed, and the run cannot vouch for the rest — pytest usage
  error (4), internal error (3), interrupted (2, also Ctrl-C/SIGTERM), nothing collected (5), no report
  written, a harness error in any test (outcome ``error``), a gating requirement *blocked* (its
  preparation failed, so it was never checked), a failing test without requirement ID, or no
  requirement checked at all.

A requirement ID missing from the catalogue is treated as MUST.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.report.outcomes import BLOCKED, ERROR, FAIL, PASS, WAIVED

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

    @property
    def gating_level(self) -> str:
        """The level that gates: a requirement unknown to the catalogue counts as MUST."""
        return self.level if self.level in STRICT_GATING_LEVELS else "MUST"


@dataclass
class Verdict:
    exit_code: int
    reasons: list[str] = field(default_factory=list)  # why not 0, in words
    failures: list[Checked] = field(default_factory=list)  # failed requirements that gate
    warnings: list[Checked] = field(default_factory=list)  # failed requirements that do not gate
    errors: list[Checked] = field(default_factory=list)
    blocked: list[Checked] = field(default_factory=list)  # never checked: a preparation failed

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
            (verdict.failures if item.gating_level in gating else verdict.warnings).append(item)
        elif item.outcome == ERROR:
            verdict.errors.append(item)
        elif item.outcome == BLOCKED:
            verdict.blocked.append(item)
    no_verdict: list[str] = []
    if pytest_status is not None and pytest_status not in (PYTEST_OK, PYTEST_TESTS_FAILED):
        no_verdict.append(PYTEST_EXIT_MEANING.get(pytest_status, f"pytest exited with {pytest_status}"))
    if verdict.errors:
        no_verdict.append(f"{len(verdict.errors)} requirement(s) hit a harness error")
    blocked_gating = [b for b in verdict.blocked if b.gating_level in gating]
    if blocked_gating:
        no_verdict.append(f"{len(blocked_gating)} requirement(s) blocked: a preparation failed, so never checked")
    bad_unmapped = [o for o in unmapped_outcomes if o in (FAIL, ERROR)]
    if bad_unmapped:
        no_verdict.append(f"{len(bad_unmapped)} test(s) without a requirement ID failed or errored")
    if not any(r.outcome in (PASS, FAIL, WAIVED) for r in results) and not no_verdict:
        no_verdict.append("no requirement was checked (everything deselected, skipped or unsupported)")
    if verdict.failures:
        verdict.exit_code = EXIT_NOT_CONFORMANT
        levels = "" if strict else "MUST "
        verdict.reasons.append(f"{len(verdict.failures)} {levels}requirement(s) failed")
        verdict.reasons += [f"also: {reason}" for reason in no_verdict]
    elif no_verdict:
        verdict.exit_code = EXIT_NO_VERDICT
        verdict.reasons += no_verdict
    return verdict


def no_report(pytest_status: int, detail: str) -> Verdict:
    """The verdict when pytest ended without writing the report."""
    meaning = PYTEST_EXIT_MEANING.get(pytest_status, f"pytest exited with {pytest_status}")
    return Verdict(EXIT_NO_VERDICT, reasons=[meaning, detail] if detail else [meaning])
