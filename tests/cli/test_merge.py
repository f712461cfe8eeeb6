"""``se-conformance merge``: shards' reports, JUnit files and Allure results as one run (fakes, no SE)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.cli.run import OutputPaths, pytest_command
from harness.errors import ConfigurationError
from harness.report import allure, allure_merge, document, junit_merge
from harness.report.merge import ShardReport, coverage_problems, merge, merged_status
from harness.report.outcomes import KIND_BLOCKED, KIND_DEFECT, KIND_HARNESS, PhaseResult, TestRecord
from harness.shard import DURATIONS_PATH, Shard, argument, parse, shard_of_args
from tests.cli.test_report_pieces import facts

P = PhaseResult


def ok(nodeid: str, *reqs: str) -> TestRecord:
    return TestRecord(nodeid, reqs, [P("call", "passed", 0.5, passed_checks=reqs)], "gw0")


def failing(nodeid: str, req: str, *passed: str) -> TestRecord:
    return TestRecord(nodeid, (req, *passed), [P("call", "failed", 0.2, KIND_DEFECT, message=f"[{req}] bad",
                                                 passed_checks=passed, failed_check=req,
                                                 failed_label="check")], "gw1")  # fmt: skip


def records() -> list[TestRecord]:
    """A run with every kind of outcome; several requirements have tests that will land in other shards."""
    return [
        ok("suites/a.py::test_1", "SE-SVC-001"),
        failing("suites/a.py::test_2", "SE-SVC-001"),  # SE-SVC-001: pass here, fail there → fail
        ok("suites/a.py::test_3", "SE-SVC-002"),
        ok("suites/b.py::test_4", "SE-SVC-002"),
        failing("suites/b.py::test_5", "SE-SVC-009", "SE-SVC-005"),  # SE-SVC-009 fails; SE-SVC-005 passes
        TestRecord(
            "suites/b.py::test_6",
            ("SE-SVC-004",),
            [P("call", "failed", 0.1, KIND_BLOCKED, message="Blocked: upload")],
            "gw0",
        ),
        ok("suites/c.py::test_7", "SE-SVC-004"),  # SE-SVC-004: blocked + pass → pass
        TestRecord(
            "suites/c.py::test_8", ("SE-SVC-003",), [P("setup", "failed", 1.0, KIND_HARNESS, message="TargetNotReady")]
        ),
        TestRecord(
            "suites/c.py::test_9",
            ("SE-FILE-023",),
            [P("setup", "skipped", skip_reason="unsupported: capability range not declared")],
        ),
        TestRecord("suites/c.py::test_10", (), [P("call", "passed", 0.1)]),  # no requirement ID
    ]


def shard_doc(recs: Sequence[TestRecord], shard: Shard | None, **overrides: Any) -> dict[str, Any]:
    args = ["suites"] + ([] if shard is None else shard.pytest_args())
    status = 1 if any(r.outcome in ("fail", "error") for r in recs) else (0 if recs else 5)
    fields: dict[str, Any] = {"args": args, "pytest_exit_status": status, **overrides}
    return document.build(list(recs), dataclasses.replace(facts(), **fields))


def split(recs: list[TestRecord], n: int) -> list[list[TestRecord]]:
    return [recs[i::n] for i in range(n)]


def shards_of(recs: list[TestRecord], n: int) -> list[ShardReport]:
    return [ShardReport(f"out-{k}", shard_doc(part, Shard(k, n))) for k, part in enumerate(split(recs, n), 1)]


def outcomes(doc: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in doc["requirements"]}


# -- the report ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_merged_report_is_the_whole_runs(n: int) -> None:
    whole = shard_doc(records(), None)
    merged = merge(shards_of(records(), n))
    document.validate(merged)
    assert outcomes(merged) == outcomes(whole)
    assert merged["verdict"] == whole["verdict"]
    assert merged["counts"] == whole["counts"]
    assert merged["areas"] == whole["areas"]
    assert merged["suite"]["catalogue"]["not_checked"] == whole["suite"]["catalogue"]["not_checked"]
    assert [t["nodeid"] for t in merged["unmapped_tests"]] == ["suites/c.py::test_10"]


def test_a_requirement_split_over_shards_takes_the_worst_of_all_its_tests() -> None:
    merged = merge(shards_of(records(), 2))  # test_1 (pass) and test_2 (fail) land in different shards
    entry = next(r for r in merged["requirements"] if r["id"] == "SE-SVC-001")
    assert [t["outcome"] for t in entry["tests"]] == ["pass", "fail"]
    assert entry["outcome"] == "fail"
    assert "SE-SVC-001" in merged["verdict"]["must_failures"]
    assert merged["verdict"]["exit_code"] == 1


def test_waivers_appear_once_and_are_applied_by_the_merged_outcomes() -> None:
    waived = TestRecord("suites/w.py::test_w", ("SE-SVC-010",),
                        [P("call", "skipped", 0.1, KIND_DEFECT, xfail_reason="waived SE-SVC-010",
                           failed_check="SE-SVC-010", failed_label="check")])  # fmt: skip
    merged = merge(shards_of([ok("suites/w.py::test_v", "SE-SVC-001"), waived], 2))
    assert len(merged["waivers"]) == 1
    assert merged["waivers"][0]["applied"] is True
    assert merged["verdict"]["exit_code"] == 0


def test_an_empty_shard_is_fine_when_the_others_ran() -> None:
    recs = [ok("suites/a.py::test_1", "SE-SVC-001")]
    inputs = [ShardReport("out-1", shard_doc(recs, Shard(1, 2))), ShardReport("out-2", shard_doc([], Shard(2, 2)))]
    merged = merge(inputs)
    assert merged["run"]["pytest_exit_status"] == 0
    assert merged["verdict"]["exit_code"] == 0


def test_a_missing_shard_is_no_verdict() -> None:
    inputs = shards_of([ok(f"suites/a.py::test_{i}", "SE-SVC-001") for i in range(3)], 3)
    merged = merge([inputs[0], ShardReport("out-2", None), inputs[2]])
    assert merged["verdict"]["exit_code"] == 2
    assert merged["run"]["collection_errors"] == [
        "out-2: no report.json (the shard did not finish)", "shard 2/3: no report among the inputs",
    ]  # fmt: skip
    assert coverage_problems(inputs[:2]) == ["shard 3/3: no report among the inputs"]


def test_a_missing_shard_does_not_hide_a_proven_failure() -> None:
    inputs = shards_of(records(), 3)
    failing_shard = next(i for i in inputs if i.document and i.document["verdict"]["must_failures"])
    merged = merge([failing_shard])
    assert merged["verdict"]["exit_code"] == 1
    assert any(reason.startswith("also: ") for reason in merged["verdict"]["reasons"])


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [([0, 0], 0), ([0, 1], 1), ([1, 5], 1), ([5, 5], 5), ([1, 2], 2), ([2, 4], 4), ([3, 1, 4], 3), ([0, 5], 0)],
)
def test_merged_pytest_status(statuses: list[int], expected: int) -> None:
    assert merged_status(statuses) == expected


def test_shards_of_different_runs_are_refused() -> None:
    a = shard_doc([ok("suites/a.py::test_1", "SE-SVC-001")], Shard(1, 2))
    b = shard_doc([ok("suites/a.py::test_2", "SE-SVC-001")], Shard(2, 2), profile="full")
    with pytest.raises(ConfigurationError, match="differ in profile"):
        merge([ShardReport("a", a), ShardReport("b", b)])
    b = shard_doc([ok("suites/a.py::test_2", "SE-SVC-001")], Shard(2, 2))
    b["target"]["identity"]["command"] = "./other-se"
    with pytest.raises(ConfigurationError, match="tested different SEs"):
        merge([ShardReport("a", a), ShardReport("b", b)])


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["1/2", "1/2"], "appears twice"),
        (["1/2", "2/3"], "split the run differently"),
        (["1/2", None], "is a whole run"),
    ],
)
def test_inconsistent_shard_sets_are_refused(specs: list[str | None], message: str) -> None:
    inputs = [
        ShardReport(f"d{i}", shard_doc([ok(f"suites/a.py::test_{i}", "SE-SVC-001")], parse(spec) if spec else None))
        for i, spec in enumerate(specs)
    ]
    with pytest.raises(ConfigurationError, match=message):
        merge(inputs)


def test_a_test_in_two_shards_is_refused() -> None:
    same = [ok("suites/a.py::test_1", "SE-SVC-001")]
    inputs = [ShardReport("a", shard_doc(same, Shard(1, 2))), ShardReport("b", shard_doc(same, Shard(2, 2)))]
    with pytest.raises(ConfigurationError, match="ran in both a and b"):
        merge(inputs)


def test_no_report_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"none of the directories holds a report\.json"):
        merge([ShardReport("x", None)])


# -- shards ---------------------------------------------------------------------------------------------
def test_shard_specs() -> None:
    assert parse("2/3") == Shard(2, 3)
    assert str(parse(" 1 / 1 ")) == "1/1"
    for bad in ("0/3", "4/3", "1/0", "a/b", "3"):
        with pytest.raises(ValueError, match="--shard"):
            parse(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="K/N"):
        argument("x")


def test_the_shard_is_read_back_from_the_recorded_arguments() -> None:
    assert shard_of_args(["suites", *Shard(2, 3).pytest_args()]) == Shard(2, 3)
    assert shard_of_args(["--splits=4", "--group=1"]) == Shard(1, 4)
    assert shard_of_args(["suites", "-n", "2"]) is None


def test_run_passes_the_shard_to_pytest_split(tmp_path: Path) -> None:
    args = argparse.Namespace(suite=tmp_path, workers=None, keyword=None, shard=Shard(2, 3), se_target="local",
                              pytest_args=[])  # fmt: skip
    cmd = pytest_command(args, OutputPaths(tmp_path))
    tail = cmd[cmd.index("--splits") :]
    assert tail[:4] == ["--splits", "3", "--group", "2"]
    assert tail[4:6] == ["--splitting-algorithm", "least_duration"]
    assert tail[6:8] == ["--durations-path", str(DURATIONS_PATH)]


# -- JUnit and Allure -----------------------------------------------------------------------------------
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="se-conformance" errors="0" failures="{f}" skipped="0" tests="{n}"
 time="{t}" timestamp="{stamp}" hostname="h">{cases}</testsuite></testsuites>"""
CASE = ('<testcase classname="suites.a" name="{name}" time="1.5"><properties>'
        '<property name="requirements" value="SE-SVC-001" /></properties>{body}</testcase>')  # fmt: skip


def write_junit(path: Path, names: list[str], failed: set[str], stamp: str) -> Path:
    cases = "".join(CASE.format(name=n, body='<failure message="bad">x</failure>' if n in failed else "")
                    for n in names)  # fmt: skip
    path.write_text(JUNIT.format(f=len(failed), n=len(names), t=1.5 * len(names), stamp=stamp, cases=cases))
    return path


def test_junit_files_become_one_suite(tmp_path: Path) -> None:
    first = write_junit(tmp_path / "1.xml", ["test_a", "test_b"], {"test_b"}, "2026-01-01T00:00:02")
    second = write_junit(tmp_path / "2.xml", ["test_c"], set(), "2026-01-01T00:00:01")
    out = tmp_path / "merged" / "junit.xml"
    assert junit_merge.merge([first, second], out) == 3
    from junitparser import JUnitXml

    suites = list(JUnitXml.fromfile(str(out)))
    assert [s.name for s in suites] == ["se-conformance"]
    suite = suites[0]
    assert (suite.tests, suite.failures, suite.timestamp) == (3, 1, "2026-01-01T00:00:01")
    assert {c.name for c in suite} == {"test_a", "test_b", "test_c"}
    assert "SE-SVC-001" in out.read_text()  # the requirements property travels with each case


def test_a_broken_junit_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "junit.xml"
    bad.write_text("<testsuites")
    with pytest.raises(ConfigurationError, match="is not a JUnit XML file"):
        junit_merge.merge([bad], tmp_path / "out.xml")


def allure_dir(path: Path, files: dict[str, str], env: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    allure.write_extras(path, env)
    return path


def test_allure_results_are_copied_and_the_extras_written_once(tmp_path: Path) -> None:
    target = "python -m reference_service"
    a = allure_dir(tmp_path / "a", {"u1-result.json": "{}", "u2-attachment.txt": "x"},
                   {"target": target, "prefix": "r1_gw0, r1_gw1", "profile": "core"})  # fmt: skip
    b = allure_dir(tmp_path / "b", {"u3-result.json": "{}"},
                   {"target": target, "prefix": "r2_gw0", "profile": "core"})  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    assert allure_merge.merge([a, b, tmp_path / "missing"], out) == 3
    assert sorted(p.name for p in out.iterdir()) == [
        "categories.json", "environment.properties", "u1-result.json", "u2-attachment.txt", "u3-result.json",
    ]  # fmt: skip
    env = allure_merge.read_properties(out / "environment.properties")
    assert env == {"target": target, "prefix": "r1_gw0, r1_gw1, r2_gw0", "profile": "core"}
    assert json.loads((out / "categories.json").read_text()) == allure.CATEGORIES


def test_two_different_allure_files_of_one_name_are_refused(tmp_path: Path) -> None:
    a = allure_dir(tmp_path / "a", {"u1-result.json": "{}"}, {})
    b = allure_dir(tmp_path / "b", {"u1-result.json": '{"other": 1}'}, {})
    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigurationError, match="different Allure file"):
        allure_merge.merge([a, b], tmp_path / "out")


# -- the command ----------------------------------------------------------------------------------------
def write_shard(folder: Path, doc: dict[str, Any] | None) -> Path:
    paths = OutputPaths(folder)
    paths.prepare()
    if doc is not None:
        document.write(doc, paths.report)
        names = sorted({t["nodeid"] for r in doc["requirements"] for t in r["tests"]})
        write_junit(paths.junit, names, set(), "2026-01-01T00:00:00")
        (paths.allure / f"{folder.name}-result.json").write_text("{}")
        allure.write_extras(paths.allure, {"prefix": folder.name})
    return folder


def test_merge_command_writes_one_run_and_exits_with_its_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = [write_shard(tmp_path / f"out-{i}", s.document) for i, s in enumerate(shards_of(records(), 3), 1)]
    out = tmp_path / "merged"
    assert main(["merge", *map(str, dirs), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "merged 3 of 3 report(s)" in text
    assert "SE-SVC-001" in text
    merged = document.read(out / "report.json")
    assert outcomes(merged) == outcomes(shard_doc(records(), None))
    assert (out / "junit.xml").is_file()
    assert len(list((out / "allure-results").glob("*-result.json"))) == 3
    assert main(["report", "--json", str(out / "report.json")]) == 1  # read back: the same verdict


def test_merge_command_without_a_shard_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = [ok(f"suites/a.py::test_{i}", "SE-SVC-001") for i in range(4)]
    shards = shards_of(recs, 2)
    one = write_shard(tmp_path / "out-1", shards[0].document)
    two = write_shard(tmp_path / "out-2", None)  # the job died before writing its report
    assert main(["merge", str(one), str(two), "--out", str(tmp_path / "m")]) == 2
    assert "out-2: no report.json" in capsys.readouterr().out


def test_merge_into_an_input_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = write_shard(tmp_path / "out-1", shards_of(records(), 1)[0].document)
    assert main(["merge", str(one), "--out", str(one)]) == 2
    assert "is also an input directory" in capsys.readouterr().err
