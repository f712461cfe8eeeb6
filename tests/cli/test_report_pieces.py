"""The report document and its schema, the summary, progress, waiver files, Allure extras, run arguments."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.cli import build_parser
from harness.cli.progress import ProgressView
from harness.cli.run import OutputPaths, pytest_command
from harness.cli.summary import render
from harness.errors import ConfigurationError
from harness.plugin import options as opt
from harness.profile import TargetProfile, Waiver
from harness.report import allure, document
from harness.report.outcomes import KIND_DEFECT, KIND_HARNESS, PhaseResult, TestRecord
from harness.report.progress import ProgressReader, ProgressWriter
from harness.report.waivers import SourcedWaiver, all_waivers, check_not_expired, load_waiver_file


def facts(**overrides: Any) -> document.RunFacts:
    base = document.RunFacts(
        run_id="rabc123", started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T00:01:00+00:00",
        duration_s=60.0, pytest_exit_status=1, profile="core", workers=2, args=["suites"],
        target={"kind": "local", "identity": {"kind": "local", "command": "python -m reference_service"},
                "info": {"version": "0.1.0"}, "version": "0.1.0", "table_prefixes": ["rabc123_gw0"],
                "profile_name": "reference", "profile_file": "(built in)"},
        declared_capabilities=["etag", "range"], observed_capabilities=["etag"],
        waivers=[SourcedWaiver(Waiver("SE-SVC-010", "later", dt.date(2099, 1, 1)), "w.toml")],
        environment=document.environment(),
    )  # fmt: skip
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


def sample_records() -> list[TestRecord]:
    call = PhaseResult
    return [
        TestRecord("suites/s.py::test_ok", ("SE-SVC-005",),
                   [call("call", "passed", 0.5, passed_checks=("SE-SVC-005",))], "gw0"),
        TestRecord("suites/s.py::test_bad", ("SE-SVC-003",),
                   [call("call", "failed", 0.2, KIND_DEFECT, message="[SE-SVC-003] expected 200, got 500",
                         failed_check="SE-SVC-003", failed_label="check")], "gw1"),
        TestRecord("suites/s.py::test_should", ("SE-SVC-014",),
                   [call("call", "failed", 0.1, KIND_DEFECT, message="[SE-SVC-014] OpenAPI paths",
                         failed_check="SE-SVC-014", failed_label="check")], "gw0"),
        TestRecord("suites/s.py::test_waived", ("SE-SVC-010",),
                   [call("call", "skipped", 0.1, KIND_DEFECT, xfail_reason="waived SE-SVC-010 until 2099-01-01",
                         failed_check="SE-SVC-010", failed_label="check")]),
        TestRecord("suites/s.py::test_boom", ("SE-NOPE-001",),
                   [call("setup", "failed", 1.0, KIND_HARNESS, message="TargetNotReady: SE did not start")]),
        TestRecord("suites/s.py::test_range", ("SE-FILE-023",),
                   [call("setup", "skipped", skip_reason="unsupported: capability range not declared")]),
    ]  # fmt: skip


def test_built_report_matches_its_schema() -> None:
    doc = document.build(sample_records(), facts())
    document.validate(doc)
    by_id = {r["id"]: r for r in doc["requirements"]}
    assert by_id["SE-SVC-003"]["outcome"] == "fail"
    assert by_id["SE-NOPE-001"]["in_catalogue"] is False
    assert by_id["SE-NOPE-001"]["level"] == "MUST"
    assert by_id["SE-SVC-010"]["waiver"] == {"reason": "later", "expires": "2099-01-01"}
    assert doc["waivers"][0]["applied"] is True
    assert doc["verdict"]["exit_code"] == 1  # a MUST failed; the harness error is listed, not a veto
    assert doc["verdict"]["errors"] == ["SE-NOPE-001"]
    assert doc["counts"]["tests"]["fail"] == 2
    json.dumps(doc)  # plain JSON all the way down


def test_schema_rejects_a_broken_report() -> None:
    doc = document.build(sample_records(), facts())
    doc["requirements"][0]["outcome"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        document.validate(doc)
    del doc["verdict"]
    with pytest.raises(jsonschema.ValidationError):
        document.validate(doc)


def test_schema_file_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(document.schema())


def test_summary_names_failed_requirements_with_titles() -> None:
    records = [r for r in sample_records() if r.requirements != ("SE-NOPE-001",)]
    doc = document.build(records, facts())
    verdict = document.verdict_of(doc, strict=False)
    text = render(doc, verdict)
    assert text.splitlines()[1].startswith("NOT CONFORMANT")
    assert "SE-SVC-003  MUST" in text
    assert "suites/s.py::test_bad" in text
    assert "got 500" in text
    assert "Warnings" in text
    assert "SE-SVC-014" in text
    assert "SE-SVC-010  until 2099-01-01: later" in text
    assert "service" in text
    assert "total" in text
    assert "prefix rabc123_gw0" in text.splitlines()[0]
    assert document.verdict_of(doc, strict=True).exit_code == 1


def test_progress_reader_tolerates_partial_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    reader = ProgressReader(path)
    assert reader.read() == []
    ProgressWriter(path).emit("collected", total=2)
    with path.open("a") as out:
        out.write('{"event": "test", "outcome"')
    assert reader.read() == [{"event": "collected", "total": 2}]
    with path.open("a") as out:
        out.write(': "pass"}\n')
    assert reader.read() == [{"event": "test", "outcome": "pass"}]


def test_progress_view_in_a_log() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=False, clock=lambda: 0.0)
    view.handle([{"event": "collected", "total": 3}])
    view.handle([{"event": "test", "outcome": "pass", "nodeid": "a"}])
    view.handle([{"event": "test", "outcome": "fail", "nodeid": "b", "requirements": ["SE-X-001"]}])
    view.handle([{"event": "test", "outcome": "pass", "nodeid": "c"}])
    view.close()
    text = out.getvalue()
    assert "running 3 test(s)" in text
    assert "FAIL  SE-X-001  b" in text
    assert text.rstrip().splitlines()[-1].startswith("[   3/3] 2 pass  1 fail  0 error")


def test_progress_view_on_a_terminal_redraws_one_line() -> None:
    out = io.StringIO()
    view = ProgressView(out, tty=True, clock=lambda: 0.0)
    view.handle([{"event": "test", "outcome": "pass", "nodeid": "a"}])
    view.handle([{"event": "test", "outcome": "pass", "nodeid": "b"}])
    view.close()
    assert out.getvalue().count("\r\x1b[2K") >= 2
    assert out.getvalue().endswith("\n")


def parse_run(*argv: str) -> argparse.Namespace:
    args = build_parser().parse_args(["run", *argv])
    args.pytest_args = []
    return args


def test_pytest_command_forwards_plugin_options(tmp_path: Path) -> None:
    args = parse_run("--target", "url", "--url", "http://127.0.0.1:8000", "--table-prefix", "se", "--profile",
                     "core", "--waivers", "w.toml", "--token-user", "tok", "-n", "0", "-k", "info")  # fmt: skip
    cmd = pytest_command(args, OutputPaths(tmp_path))
    pairs = dict(itertools.pairwise(cmd))
    assert pairs[opt.TARGET] == "url"
    assert pairs[opt.URL] == "http://127.0.0.1:8000"
    assert pairs[opt.TABLE_PREFIX] == "se"
    assert pairs[opt.PROFILE] == "core"
    assert pairs[opt.TOKEN_PREFIX + "user"] == "tok"
    assert Path(pairs[opt.WAIVERS]).is_absolute(), "paths are resolved against the caller's directory"
    assert pairs[opt.REPORT_JSON] == str(tmp_path / "report.json")
    assert pairs["--alluredir"] == str(tmp_path / "allure-results")
    assert pairs["-n"] == "0"
    assert pairs["-k"] == "info"
    assert opt.IMAGE not in cmd, "options not given are not passed"


def test_output_paths_clean_only_their_own_files(tmp_path: Path) -> None:
    paths = OutputPaths(tmp_path)
    paths.allure.mkdir()
    (paths.allure / "old-result.json").write_text("{}")
    paths.report.write_text("{}")
    (tmp_path / "keep.txt").write_text("mine")
    paths.prepare()
    assert list(paths.allure.iterdir()) == []
    assert not paths.report.exists()
    assert (tmp_path / "keep.txt").exists()


def test_waiver_file(tmp_path: Path) -> None:
    good = tmp_path / "w.toml"
    good.write_text('[[waivers]]\nrequirement = "SE-FILE-040"\nreason = "1.3"\nexpires = 2027-01-31\n')
    assert load_waiver_file(good) == (Waiver("SE-FILE-040", "1.3", dt.date(2027, 1, 31)),)
    profile = TargetProfile(waivers=(Waiver("SE-SVC-001", "p", dt.date(2020, 1, 1)),), source="p.toml")
    merged = all_waivers(profile, good)
    assert [(s.waiver.requirement, s.source) for s in merged] == [("SE-SVC-001", "p.toml"),
                                                                   ("SE-FILE-040", str(good))]  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"SE-SVC-001 \(expired 2020-01-01"):
        check_not_expired(merged)
    check_not_expired(merged[1:], today=dt.date(2027, 1, 31))  # the expiry day itself is still valid
    bad = tmp_path / "bad.toml"
    bad.write_text('[[waiver]]\nrequirement = "x"\n')
    with pytest.raises(ConfigurationError, match="unknown key"):
        load_waiver_file(bad)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_waiver_file(tmp_path / "missing.toml")


def test_allure_extras(tmp_path: Path) -> None:
    allure.write_extras(tmp_path, {"target": "python -m x", "kind": "local", "a key": "line1\nline2"})
    props = (tmp_path / "environment.properties").read_text()
    assert "target=python -m x\n" in props
    assert "a\\ key=line1\\nline2" in props
    categories = json.loads((tmp_path / "categories.json").read_text())
    assert [c["matchedStatuses"] for c in categories] == [["failed"], ["broken"], ["broken"], ["broken"], ["skipped"]]
    assert "Blocked" in categories[1]["traceRegex"]
    assert "TargetNotReady" in categories[2]["traceRegex"]
    # Allure 3 compiles these as JavaScript regular expressions: inline flags such as (?s) break the report.
    assert not any("(?" in str(c.get("traceRegex", "")) for c in categories)


@pytest.mark.parametrize(
    ("argv", "workers"),
    [
        ((), "2"),
        (("--target", "local"), "2"),
        (("--target", "url", "--url", "http://127.0.0.1:1"), "0"),  # one deployed SE: no sharing
        (("--url", "http://127.0.0.1:1"), "0"),  # auto with --url is the url target
        (("--target", "url", "--url", "http://127.0.0.1:1", "-n", "2"), "2"),  # explicit wins
        (("-n", "auto"), "auto"),
    ],
)
def test_default_workers(tmp_path: Path, argv: tuple[str, ...], workers: str) -> None:
    cmd = pytest_command(parse_run(*argv), OutputPaths(tmp_path))
    assert cmd[cmd.index("-n") + 1] == workers


def test_a_crash_is_no_verdict_never_not_conformant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    broken = tmp_path / "report.json"
    broken.write_text("{not json")
    assert main(["report", "--json", str(broken)]) == 2
    assert "internal error" in capsys.readouterr().err
    assert main(["report", "--json", str(tmp_path / "missing.json")]) == 2
