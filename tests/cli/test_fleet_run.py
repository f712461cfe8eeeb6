"""``se-conformance run --fleet`` for real: three reference SEs on one PostgreSQL (two edit, one rw)
started by ``serve --ses edit,edit,rw`` (local target), verified in one command; then the same fleet
with a wrong mode and with a duplicate prefix in the fleet file: the summary names the SE and the
requirement, exit 1. A -k subset keeps each SE's run short; the fleet-wide checks always run whole.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, CliResult
from tests.cli.test_serve import READY_MARK, Serve

pytestmark = pytest.mark.slow

SUBSET = "test_root_describes_the_service or test_liveness"
FLEET_IDS = ("SE-FLEET-001", "SE-FLEET-002", "SE-FLEET-003", "SE-FLEET-004")


@pytest.fixture
def fleet(cli: Cli) -> Iterator[tuple[Serve, Path]]:
    path = cli.workdir / "fleet.toml"
    served = Serve(cli, "--ses", "edit,edit,rw", "--fleet-file", str(path))
    try:
        text = served.wait_for(READY_MARK)
        assert f"se-conformance run --fleet {path}" in text, text
        yield served, path
    finally:
        if served.proc.poll() is None:
            served.signal(signal.SIGTERM)


def run_fleet(cli: Cli, path: Path, out: str) -> tuple[CliResult, dict[str, Any]]:
    result = cli("run", "--fleet", str(path), "--out", out, "-k", SUBSET, timeout=300)
    doc = json.loads((cli.workdir / out / "fleet.json").read_text())
    return result, doc


def failed(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(requirement, SEs) of every failed fleet-wide check."""
    return {(r, "+".join(c["subject"])) for c in doc["fleet_checks"]["checks"] if c["outcome"] == "fail"
            for r in c["requirements"]}  # fmt: skip


def test_a_fleet_of_three_is_verified_and_a_misconfigured_one_is_named(cli: Cli, fleet: tuple[Serve, Path]) -> None:
    served, path = fleet
    text = path.read_text()
    assert text.count("[[se]]") == 3
    assert re.findall(r'^mode = "(\w+)"', text, re.M) == ["edit", "edit", "rw"]

    result, doc = run_fleet(cli, path, "good")
    assert result.code == 0, result
    assert doc["exit_code"] == 0
    assert [se["name"] for se in doc["ses"]] == ["se-a", "se-b", "se-c"]
    for name in ("se-a", "se-b", "se-c"):
        out = cli.workdir / "good" / name
        report = json.loads((out / "report.json").read_text())
        assert report["run"]["workers"] == 0, "one worker bound to each SE"
        assert report["target"]["kind"] == "url"
        assert report["run"]["profile"] == "core"
        assert (out / "junit.xml").exists()
        assert any((out / "allure-results").glob("*-result.json"))
        assert re.search(rf"^\s+{name}\s+pass \d+\s+pass\s+conformant$", result.stdout, re.M), result.stdout
    outcomes = {(r, c["outcome"]) for c in doc["fleet_checks"]["checks"] for r in c["requirements"]}
    assert outcomes == {(r, "pass") for r in FLEET_IDS}, outcomes
    assert len(doc["fleet_checks"]["checks"]) == 3 + 3 + 3 + 3  # pairs: 001, 002, 004; members: 003
    assert (cli.workdir / "good" / "fleet" / "junit.xml").exists()
    assert "FLEET: CONFORMANT (exit 0)" in result.stdout

    wrong_mode = cli.workdir / "wrong-mode.toml"
    wrong_mode.write_text(text.replace('mode = "rw"', 'mode = "edit"'))
    result, doc = run_fleet(cli, wrong_mode, "wrong-mode")
    assert result.code == 1, result
    assert failed(doc) == {("SE-FLEET-003", "se-c")}
    assert "SE-FLEET-003  MUST   Each SE reports the mode the fleet expects — se-c: fail" in result.stdout
    assert "actual:    'rw'" in result.stdout
    assert "FLEET: NOT CONFORMANT (exit 1)" in result.stdout

    same_prefix = cli.workdir / "same-prefix.toml"
    same_prefix.write_text(text.replace('table_prefix = "se_b"', 'table_prefix = "se_a"'))
    result, doc = run_fleet(cli, same_prefix, "same-prefix")
    assert result.code == 1, result
    assert failed(doc) == {("SE-FLEET-001", "se-a+se-b"), ("SE-FLEET-002", "se-a+se-b")}
    assert "SE-FLEET-001  MUST   SEs on one database have prefixes apart — se-a + se-b: fail" in result.stdout
    assert "both use se_a_alembic_version, se_a_config, se_a_files, se_a_wal" in result.stdout

    assert served.signal(signal.SIGTERM) == 0
    assert not cli.live(), "serve and every run removed what they started"


def test_single_target_options_are_refused_with_a_fleet(cli: Cli) -> None:
    path = cli.workdir / "fleet.toml"
    path.write_text('[[se]]\nname = "se-a"\nurl = "http://127.0.0.1:9"\ntable_prefix = "se_a"\nmode = "edit"\n'
                    'tokens = { user = "t" }\n')  # fmt: skip
    result = cli("run", "--fleet", str(path), "--url", "http://127.0.0.1:9", "-n", "2", timeout=60)
    assert result.code == 2, result
    assert "--url, --workers describe(s) one target" in result.stderr, result
    path.write_text(path.read_text() + "colour = 1\n")
    result = cli("run", "--fleet", str(path), timeout=60)
    assert result.code == 2, result
    assert "unknown key(s) colour" in result.stderr, result
