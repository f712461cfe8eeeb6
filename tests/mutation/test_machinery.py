"""Unit tests of the mutation runner's parts: variant parsing, edits, JUnit reading, verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation import junit, runner
from tests.mutation.patching import EditError, apply_edits
from tests.mutation.variants import Edit, VariantError, parse_variants

EDIT = {"file": "reference_service/x.py", "old": "a = 1", "new": "a = 2"}


def variant(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {"name": "v", "description": "d", "catches": ["SE-FILE-001"], "edits": [dict(EDIT)]}
    raw.update(overrides)
    return raw


def test_parse_variants_in_file_order() -> None:
    parsed = parse_variants({"variant": [variant(name="b-one"), variant(name="a-two")]})
    assert [v.name for v in parsed] == ["b-one", "a-two"]
    assert parsed[0].edits == (Edit("reference_service/x.py", "a = 1", "a = 2"),)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Bad Name"}, "lowercase"),
        ({"catches": []}, "non-empty list"),
        ({"catches": ["FILE-1"]}, "SE-<AREA>-<NNN>"),
        ({"edits": []}, "at least one"),
        ({"edits": [{**EDIT, "file": "harness/x.py"}]}, "not a path under reference_service"),
        ({"edits": [{**EDIT, "file": "reference_service/../x.py"}]}, "not a path under reference_service"),
        ({"edits": [{**EDIT, "new": "a = 1"}]}, "equal"),
        ({"edits": [{"file": "reference_service/x.py", "old": "a"}]}, "exactly the keys"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_malformed_variants_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(VariantError, match=message):
        parse_variants({"variant": [variant(**overrides)]})


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(VariantError, match="used twice"):
        parse_variants({"variant": [variant(), variant()]})


def test_edit_must_match_exactly_once(tmp_path: Path) -> None:
    target = tmp_path / "reference_service" / "x.py"
    target.parent.mkdir()
    target.write_text("a = 1\nb = 1\n")
    apply_edits(tmp_path, (Edit("reference_service/x.py", "a = 1", "a = 2"),), "ok")
    assert target.read_text() == "a = 2\nb = 1\n"
    with pytest.raises(EditError, match=r"variant gone.*occurs 0 times in reference_service/x.py"):
        apply_edits(tmp_path, (Edit("reference_service/x.py", "c = 1", "c = 2"),), "gone")
    target.write_text("a = 1\na = 1\n")
    with pytest.raises(EditError, match=r"variant twice.*occurs 2 times"):
        apply_edits(tmp_path, (Edit("reference_service/x.py", "a = 1", "a = 2"),), "twice")
    with pytest.raises(EditError, match=r"variant missing.*reference_service/y.py does not exist"):
        apply_edits(tmp_path, (Edit("reference_service/y.py", "a", "b"),), "missing")


def test_variant_whose_edit_does_not_apply_is_an_error() -> None:
    broken = parse_variants({"variant": [variant(edits=[{**EDIT, "file": "reference_service/app.py",
                                                         "old": "no such snippet anywhere"}])]})[0]  # fmt: skip
    outcome = runner.run_variant(broken)
    assert outcome.verdict == runner.ERROR
    assert "variant v" in outcome.detail
    assert "reference_service/app.py" in outcome.detail


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="suites.files.test_upload" name="test_a" time="0.1"/>
  <testcase classname="suites.files.test_upload" name="test_b[x]" time="0.1">
    <failure message="harness.expect.ConformanceFailure: [SE-FILE-002] upload checksum&#10;  got: 1">tb</failure>
  </testcase>
  <testcase classname="suites.wal.test_wal_rows" name="test_c" time="0.1">
    <error message="failed on setup with &quot;harness.errors.TargetNotReady: no&quot;">E   boom</error>
  </testcase>
  <testcase classname="suites.wal.test_wal_rows" name="test_d" time="0.1">
    <failure message="AssertionError">E       harness.expect.ConformanceFailure: [SE-WAL-001] rows</failure>
  </testcase>
  <testcase classname="suites.gc.test_gc" name="test_e" time="0.0">
    <skipped type="pytest.skip" message="unsupported: no lifecycle">skip</skipped>
  </testcase>
</testsuite></testsuites>
"""


def test_junit_results_name_the_failed_requirement(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    results = junit.parse(path)
    assert [(r.nodeid, r.outcome, r.requirement) for r in results] == [
        ("suites/files/test_upload.py::test_a", junit.PASSED, None),
        ("suites/files/test_upload.py::test_b[x]", junit.FAILED, "SE-FILE-002"),
        ("suites/wal/test_wal_rows.py::test_c", junit.ERROR, None),
        ("suites/wal/test_wal_rows.py::test_d", junit.FAILED, "SE-WAL-001"),
        ("suites/gc/test_gc.py::test_e", junit.SKIPPED, None),
    ]


def result(outcome: str, requirement: str | None = None) -> junit.TestResult:
    return junit.TestResult("suites/x.py::t", outcome, requirement, "")


def test_verdicts() -> None:
    catches = ("SE-FILE-001", "SE-FILE-002")
    both = [result(junit.FAILED, "SE-FILE-001"), result(junit.FAILED, "SE-FILE-002")]
    assert runner.verdict_of("v", catches, both, 1.0).verdict == runner.CAUGHT
    one = [result(junit.FAILED, "SE-FILE-001"), result(junit.PASSED)]
    partial = runner.verdict_of("v", catches, one, 1.0)
    assert (partial.verdict, partial.missing) == (runner.PARTIAL, ("SE-FILE-002",))
    # A failure naming another requirement, or a harness error, catches nothing.
    other = [result(junit.FAILED, "SE-FILE-009"), result(junit.ERROR)]
    assert runner.verdict_of("v", catches, other, 1.0).verdict == runner.NOT_CAUGHT
    assert runner.verdict_of("v", catches, [], 1.0).verdict == runner.ERROR


def test_control_verdicts() -> None:
    assert runner.control_verdict(("SE-FILE-001",), [result(junit.PASSED), result(junit.SKIPPED)], 1).ok
    failed = runner.control_verdict(("SE-FILE-001",), [result(junit.FAILED, "SE-FILE-001")], 1)
    assert failed.verdict == runner.FAILED
    assert runner.control_verdict(("SE-FILE-001",), [result(junit.ERROR)], 1).verdict == runner.FAILED
