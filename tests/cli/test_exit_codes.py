"""Exit codes of ``se-conformance run``, for real: 0 conformant, 1 not conformant, 2 no verdict.

Most runs use the fake SE (tests/cli/fake_se.py) and the fake suite on the local target; one runs a
subset of the real suite against the reference SE. After every run nothing of it is left running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from harness.net import free_port
from harness.report import document
from tests.cli.conftest import FAKE_SE, SLOW_SUITE, Cli

pytestmark = pytest.mark.slow


def outcomes(report: dict[str, object]) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in report["requirements"]}  # type: ignore[attr-defined]


def test_reference_subset_is_conformant(cli: Cli) -> None:
    result = cli("run", "--target", "local", "--profile", "core", "-n", "2", "-k", "info or live")
    assert result.code == 0, result
    assert "CONFORMANT" in result.stdout
    report = result.report
    document.validate(report)
    assert report["target"]["kind"] == "local"
    assert report["target"]["version"], "version from /api/v1/info"
    assert len(report["target"]["table_prefixes"]) == 2, "one prefix per xdist worker"
    assert report["run"]["workers"] == 2
    assert (result.out / "junit.xml").read_text().count("<testcase") == report["counts"]["tests"]["pass"]
    properties = (result.out / "allure-results" / "environment.properties").read_text()
    assert "kind=local" in properties
    assert "suite.version=" in properties
    assert (result.out / "allure-results" / "categories.json").exists()
    assert not cli.live()


def test_pass_waived_unsupported_is_conformant(cli: Cli) -> None:
    result = cli.fake_run("--waivers", str(cli.write_waivers()))
    assert result.code == 0, result
    report = result.report
    document.validate(report)
    assert outcomes(report) == {"SE-SVC-005": "pass", "SE-SVC-014": "pass", "SE-SVC-010": "waived",
                                "SE-FILE-023": "unsupported", "SE-SVC-003": "pass", "SE-SVC-004": "pass"}  # fmt: skip
    assert [w["requirement"] for w in report["waivers"] if w["applied"]] == ["SE-SVC-010"]
    assert report["target"]["version"] == "fake-1.0"
    assert report["capabilities"]["declared"] == []
    assert "Waived" in result.stdout
    assert "SE-SVC-010" in result.stdout
    assert not cli.live()


def test_should_failure_warns_and_strict_fails(cli: Cli) -> None:
    result = cli.fake_run("--waivers", str(cli.write_waivers()), env={"FAKE_SE_BROKEN": "should"})
    assert result.code == 0, result
    assert "SE-SVC-014" in result.stdout
    assert "Warnings" in result.stdout
    assert result.report["verdict"]["other_failures"] == ["SE-SVC-014"]
    assert result.report["verdict"]["strict_exit_code"] == 1
    again = cli("report", "--json", str(result.out / "report.json"), "--strict")
    assert again.code == 1, again
    assert not cli.live()


def test_a_proven_failure_is_not_erased_by_a_harness_error(cli: Cli) -> None:
    result = cli.fake_run(env={"FAKE_SUITE_HARNESS_ERROR": "1", "FAKE_SE_BROKEN": "must"})
    assert result.code == 1, result
    report = result.report
    document.validate(report)
    assert outcomes(report)["SE-SVC-003"] == "error"
    assert outcomes(report)["SE-SVC-005"] == "fail"
    assert outcomes(report)["SE-SVC-004"] == "blocked"  # its preparation read the broken info
    blocked = next(r for r in report["requirements"] if r["id"] == "SE-SVC-004")["tests"][0]["message"]
    assert "covered by SE-SVC-005" in blocked
    assert "NOT CONFORMANT" in result.stdout
    assert "simulated harness failure" in result.stdout  # the error is listed beside the failure
    assert not cli.live()


def test_harness_error_alone_means_no_verdict(cli: Cli) -> None:
    result = cli.fake_run("--waivers", str(cli.write_waivers()), env={"FAKE_SUITE_HARNESS_ERROR": "1"})
    assert result.code == 2, result
    assert outcomes(result.report)["SE-SVC-003"] == "error"
    assert "NO VERDICT" in result.stdout
    assert not cli.live()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--target", "nowhere"], "invalid choice"),
        (["run", "--workers", "many"], "not a worker count"),
        (["run", "--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_option(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2, result
    assert message in result.stderr
    assert not cli.live()


def test_unreachable_url(cli: Cli) -> None:
    result = cli("run", "--target", "url", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.code == 2, result
    assert "did not answer" in result.stderr
    assert "hint:" in result.stderr
    assert not cli.live()


def test_invalid_profile_file(cli: Cli) -> None:
    profile = cli.write_profile('name = "x"\ncapabilitys = ["range"]\n')
    result = cli("run", "--target", "local", "--profile-file", str(profile))
    assert result.code == 2, result
    assert "unknown key(s) capabilitys" in result.stderr
    assert not cli.live()


def test_expired_waiver(cli: Cli) -> None:
    result = cli.fake_run("--waivers", str(cli.write_waivers(expires="2020-01-01")))
    assert result.code == 2, result
    assert "expired waiver(s): SE-SVC-010" in result.stderr
    assert not cli.live()


def test_pytest_usage_error_is_no_verdict(cli: Cli) -> None:
    result = cli.fake_run("--", "--no-such-pytest-flag")
    assert result.code == 2, result
    assert "NO VERDICT" in result.stdout
    assert "no-such-pytest-flag" in result.stdout
    assert not cli.live()


def test_sigterm_stops_the_run_cleanly(cli: Cli) -> None:
    marker = cli.workdir / "running"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--suite", str(SLOW_SUITE), "--target", "local",
         "--command", f"{sys.executable} {FAKE_SE}", "-n", "0"],
        cwd=cli.workdir, env=cli.env({"FAKE_SUITE_MARKER": str(marker)}), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not marker.exists() and proc.poll() is None:
        time.sleep(0.1)  # until the test runs, with PostgreSQL and the SE up
    assert cli.live(), "the run's processes are up"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, f"{stdout}\n{stderr}"
    assert time.monotonic() - started < 20, "stopped promptly, not when the test ended"
    assert "SIGTERM" in stderr
    assert "NO VERDICT" in stdout
    assert not cli.live()
