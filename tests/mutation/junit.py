"""What a suite run's JUnit XML says: per test, its outcome and the requirement a failure names.

A conformance failure is ``harness.expect.ConformanceFailure`` whose message starts ``[SE-…]``; that
requirement is the one the test found broken (a test may carry several ``req`` markers, but it stops at
its first failed expectation). Failures without such a tag (``[setup]`` arrangements, plain asserts,
harness errors) name no requirement.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
_TAG_IN_MESSAGE = re.compile(r"ConformanceFailure: \[(SE-[A-Z]+-\d{3})\]")
_TAG_IN_TEXT = re.compile(r"^E\s+\S*ConformanceFailure: \[(SE-[A-Z]+-\d{3})\]", re.MULTILINE)


@dataclass(frozen=True)
class TestResult:
    nodeid: str
    outcome: str  # passed, failed, error, skipped
    requirement: str | None  # the [SE-…] of a conformance failure
    message: str  # first line of the failure, error or skip message

    __test__ = False  # not a pytest test class


def _tag(message: str, text: str) -> str | None:
    found = _TAG_IN_MESSAGE.search(message) or _TAG_IN_TEXT.search(text)
    return found.group(1) if found else None


def _nodeid(case: ET.Element) -> str:
    classname, name = case.get("classname", ""), case.get("name", "")
    parts = classname.split(".")
    # "suites.files.test_upload" + "test_x[a]" -> "suites/files/test_upload.py::test_x[a]"
    return f"{'/'.join(parts)}.py::{name}" if classname else name


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def result_of(case: ET.Element) -> TestResult:
    problems = [child for child in case if child.tag in ("failure", "error")]
    skipped = [child for child in case if child.tag == SKIPPED]
    nodeid = _nodeid(case)
    if problems:
        outcome = FAILED if any(p.tag == "failure" for p in problems) else ERROR
        for problem in problems:
            tag = _tag(problem.get("message", ""), problem.text or "")
            if tag:
                return TestResult(nodeid, outcome, tag, _first_line(problem.get("message", "")))
        first = problems[0]
        return TestResult(nodeid, outcome, None, _first_line(first.get("message", "") or first.text or ""))
    if skipped:
        return TestResult(nodeid, SKIPPED, None, _first_line(skipped[0].get("message", "")))
    return TestResult(nodeid, PASSED, None, "")


def parse(path: Path) -> list[TestResult]:
    """Every test case in the report, in report order."""
    root = ET.parse(path).getroot()
    return [result_of(case) for case in root.iter("testcase")]
