"""Outcomes of a fleet run: the fleet-wide checks (read from their JUnit XML), each SE's verdict, and the
fleet's one exit code. Pure, apart from reading files.

The fleet's exit code is the worst of its parts, in the order **1 > 2 > 0**: a proven failure — an SE not
conformant, or a fleet-wide MUST requirement failed — makes the fleet not conformant (1) whatever else
happened, as a failed requirement does in a single run (docs/verdicts.md); otherwise any part without a
verdict (an SE's run exit 2, a fleet check's harness error) leaves the fleet without one (2); else 0.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import catalogue
from harness.expect import ConformanceFailure
from harness.report.outcomes import ERROR, FAIL, PASS, SKIPPED, UNSUPPORTED, UNSUPPORTED_PREFIX, worst
from harness.report.verdict import EXIT_CONFORMANT, EXIT_NO_VERDICT, EXIT_NOT_CONFORMANT, PYTEST_EXIT_MEANING

DEFECT = ConformanceFailure.__name__
#: Worst first: the fleet's exit code is the first of these that any part has.
EXIT_ORDER = (EXIT_NOT_CONFORMANT, EXIT_NO_VERDICT, EXIT_CONFORMANT)


@dataclass(frozen=True)
class FleetCheck:
    """One fleet-wide test: its requirement(s), the SE(s) it is about, outcome and first message line."""

    test: str
    requirements: tuple[str, ...]
    subject: tuple[str, ...]
    outcome: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "requirements": list(self.requirements), "subject": list(self.subject)}


def _outcome(case: ET.Element) -> tuple[str, str]:
    failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
    if failure is not None:
        message = failure.get("message") or ""
        return (FAIL if DEFECT in message.split(":", 1)[0] else ERROR), message
    if error is not None:
        return ERROR, error.get("message") or ""
    if skipped is not None:
        message = skipped.get("message") or ""
        return (UNSUPPORTED if UNSUPPORTED_PREFIX in message else SKIPPED), message
    return PASS, ""


def read_checks(junit: Path) -> list[FleetCheck]:
    """The fleet-wide tests in ``junit`` (written by ``pytest suites/fleet --junitxml``)."""
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
        outcome, message = _outcome(case)
        found.append(FleetCheck(
            test=f"{case.get('classname', '')}::{case.get('name', '')}",
            requirements=tuple(props.get("requirements", "").split()),
            subject=tuple(props.get("subject", "").split()),
            outcome=outcome,
            message=message.strip(),
        ))  # fmt: skip
    return found


def level_of(req_id: str) -> str:
    req = catalogue.load().get(req_id)
    return req.level if req is not None else "MUST"  # an unknown ID counts as MUST (docs/cli.md)


def checks_exit(checks: list[FleetCheck], *, strict: bool, pytest_status: int) -> tuple[int, list[str]]:
    """The fleet-wide checks' exit code and why."""
    reasons = []
    gating = {"MUST", "SHOULD", "MAY"} if strict else {"MUST"}
    failed = [c for c in checks if c.outcome == FAIL and any(level_of(r) in gating for r in c.requirements)]
    if failed:
        return EXIT_NOT_CONFORMANT, [f"{len(failed)} fleet check(s) failed"]
    errors = [c for c in checks if c.outcome == ERROR]
    if errors:
        reasons.append(f"{len(errors)} fleet check(s) hit a harness error")
    if pytest_status not in (0, 1):
        reasons.append(f"fleet checks: {PYTEST_EXIT_MEANING.get(pytest_status, f'pytest exit {pytest_status}')}")
    if not checks:
        reasons.append("no fleet check ran")
    return (EXIT_NO_VERDICT if reasons else EXIT_CONFORMANT), reasons


def combine(codes: Iterable[int]) -> int:
    """The worst exit code: 1 beats 2 beats 0 (anything unknown counts as 2)."""
    seen = {c if c in EXIT_ORDER else EXIT_NO_VERDICT for c in codes}
    return next((c for c in EXIT_ORDER if c in seen), EXIT_NO_VERDICT)


def outcome_for(checks: list[FleetCheck], se_name: str) -> str | None:
    """The worst fleet-check outcome that concerns one SE (``None``: none concerns it)."""
    return worst(c.outcome for c in checks if se_name in c.subject)


def requirement_title(req_id: str) -> str:
    req = catalogue.load().get(req_id)
    return req.title if req is not None else "(not in the catalogue)"
