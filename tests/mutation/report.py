"""What a suite run's JSON conformance report (``--se-report-json``) says, per requirement.

Only the stable part of the report is read: ``requirements[]`` entries with ``id``, ``outcome`` and
``tests[]`` (``nodeid``, ``outcome``, ``message``), and ``unmapped_tests[]``. A requirement is **failed**
when its outcome is ``fail``; every other outcome (pass, error, blocked, unsupported, ...) is not a
failure. ``error`` outcomes are collected separately: the harness reached no verdict there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAIL, ERROR, BLOCKED = "fail", "error", "blocked"


class ReportError(Exception):
    """The report is missing or does not have the expected shape."""


@dataclass(frozen=True)
class TestEntry:
    nodeid: str
    outcome: str
    message: str

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class Requirement:
    id: str
    outcome: str
    tests: tuple[TestEntry, ...]


@dataclass(frozen=True)
class Report:
    requirements: dict[str, Requirement]
    unmapped: tuple[TestEntry, ...] = ()

    def with_outcome(self, outcome: str) -> tuple[str, ...]:
        return tuple(sorted(rid for rid, r in self.requirements.items() if r.outcome == outcome))

    @property
    def failed(self) -> tuple[str, ...]:
        return self.with_outcome(FAIL)

    @property
    def errored(self) -> tuple[str, ...]:
        return self.with_outcome(ERROR)

    @property
    def blocked(self) -> tuple[str, ...]:
        return self.with_outcome(BLOCKED)

    def unmapped_problems(self) -> tuple[TestEntry, ...]:
        """Tests without a requirement that failed or errored."""
        return tuple(t for t in self.unmapped if t.outcome in (FAIL, ERROR))

    def evidence(self, rid: str) -> list[TestEntry]:
        """The tests behind a requirement's outcome: those that failed or errored, else all of them."""
        req = self.requirements.get(rid)
        if req is None:
            return []
        bad = [t for t in req.tests if t.outcome in (FAIL, ERROR)]
        return bad or list(req.tests)


def _test(raw: Any, where: str) -> TestEntry:
    if not isinstance(raw, dict) or not isinstance(raw.get("nodeid"), str) or not isinstance(raw.get("outcome"), str):
        raise ReportError(f"{where}: a test entry needs string 'nodeid' and 'outcome', got {str(raw)[:120]}")
    return TestEntry(raw["nodeid"], raw["outcome"], str(raw.get("message") or ""))


def parse(document: Any) -> Report:
    if not isinstance(document, dict) or not isinstance(document.get("requirements"), list):
        raise ReportError("the conformance report has no 'requirements' list (expected the --se-report-json format)")
    requirements: dict[str, Requirement] = {}
    for index, raw in enumerate(document["requirements"]):
        where = f"requirements[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("outcome"), str):
            raise ReportError(f"{where}: needs string 'id' and 'outcome', got {str(raw)[:120]}")
        tests = tuple(_test(t, f"{where} ({raw['id']})") for t in raw.get("tests") or [])
        requirements[raw["id"]] = Requirement(raw["id"], raw["outcome"], tests)
    unmapped = tuple(_test(t, "unmapped_tests") for t in document.get("unmapped_tests") or [])
    return Report(requirements, unmapped)


def load(path: Path) -> Report:
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ReportError(f"the run wrote no conformance report at {path}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"the conformance report {path} is not JSON: {exc}") from None
