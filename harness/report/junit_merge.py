"""Merge the shards' ``junit.xml`` into one suite, as an unsharded run writes it (junitparser).

pytest writes ``<testsuites><testsuite name="se-conformance" …>``; the merged file has the same shape:
one ``se-conformance`` suite with every shard's test cases (their ``requirements`` properties kept),
its counts and time computed again from them, and the shards' timestamps' earliest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from junitparser import JUnitXml, TestSuite
from junitparser.junitparser import JUnitXmlError

from harness.errors import ConfigurationError

SUITE_NAME = "se-conformance"


def _suites(path: Path) -> list[TestSuite]:
    try:
        parsed = JUnitXml.fromfile(str(path))
    except (JUnitXmlError, OSError, SyntaxError) as exc:  # ElementTree/lxml parse errors are SyntaxErrors
        raise ConfigurationError(f"{path} is not a JUnit XML file ({type(exc).__name__}: {exc})",
                                 expected="the junit.xml `se-conformance run` wrote",
                                 hint="run the shard again, or leave its directory out") from exc  # fmt: skip
    return [parsed] if isinstance(parsed, TestSuite) else list(parsed)


def merge(paths: Sequence[Path], out: Path) -> int:
    """Write one JUnit file with the test cases of ``paths``; returns how many test cases it holds."""
    merged = TestSuite(SUITE_NAME)
    stamps: list[str] = []
    hosts: set[str] = set()
    for path in paths:
        for suite in _suites(path):
            if suite.timestamp:
                stamps.append(str(suite.timestamp))
            if suite.hostname:
                hosts.add(str(suite.hostname))
            for case in suite:
                merged.add_testcase(case)
    if stamps:
        merged.timestamp = min(stamps)
    if hosts:
        merged.hostname = ", ".join(sorted(hosts))
    merged.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(merged)
    xml.update_statistics()
    out.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(out), pretty=True)
    return int(merged.tests)
