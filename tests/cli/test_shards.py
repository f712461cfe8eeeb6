"""``run --shard K/N`` + ``merge``, for real: the merged verdict of three shards is the unsharded run's.

Also: the durations file the shards balance by matches the suite (``python -m harness.durations``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import durations
from harness.cli.common import SUITES_DIR
from harness.cli.listing import collect
from harness.report import document
from harness.report.merge import nodeids_of
from tests.cli.conftest import Cli

# Tests added, renamed or removed since the file was recorded get the average duration from pytest-split:
# harmless for a few, a skewed balance for many.
DRIFT_TOLERANCE = 0.05
SHARDS = 3


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in report["requirements"]}


def test_durations_file_matches_the_suite() -> None:
    nodeids = [item["nodeid"] for item in collect(SUITES_DIR)]
    drift = durations.drift(durations.load(), nodeids)
    off = len(drift.missing) + len(drift.stale)
    assert off <= DRIFT_TOLERANCE * len(nodeids), (
        f"{durations.DURATIONS_PATH} is out of date: {len(drift.missing)} suite test(s) without a duration "
        f"(e.g. {drift.missing[:3]}), {len(drift.stale)} duration(s) of tests that are gone (e.g. {drift.stale[:3]})\n"
        f"  expected: at most {DRIFT_TOLERANCE:.0%} of {len(nodeids)} tests off\n"
        f"  hint: {durations.COMMAND}  (then commit the file)"
    )


@pytest.mark.slow
def test_three_shards_merge_to_the_unsharded_verdict(cli: Cli, tmp_path: Path) -> None:
    # HTTP-only tests of two areas (~100 tests): four runs stay around a minute on two cores.
    common = ("--target", "local", "--profile", "core", "-k", "auth or service", "-n", "2", "--quiet")
    whole = cli("run", *common, "--out", str(tmp_path / "whole"))
    assert whole.code in (0, 1), whole
    shard_dirs = [tmp_path / f"shard-{k}" for k in range(1, SHARDS + 1)]
    for k, out in enumerate(shard_dirs, 1):
        part = cli("run", *common, "--shard", f"{k}/{SHARDS}", "--out", str(out))
        assert part.code in (0, 1), part
    merged = cli("merge", *map(str, shard_dirs), "--out", str(tmp_path / "merged"))
    assert merged.code == whole.code, merged
    assert cli.live() == []

    whole_doc = document.read(tmp_path / "whole" / "report.json")
    shard_docs = [document.read(d / "report.json") for d in shard_dirs]
    merged_doc = document.read(tmp_path / "merged" / "report.json")
    document.validate(merged_doc)
    # The shards are a partition of the unsharded run's tests: each test once, none lost.
    parts = [nodeids_of(d) for d in shard_docs]
    assert all(parts), "every shard ran tests"
    assert sum(len(p) for p in parts) == len(set().union(*parts))
    assert set().union(*parts) == nodeids_of(whole_doc)
    # Requirement by requirement, then the verdict.
    assert outcomes(merged_doc) == outcomes(whole_doc)
    assert merged_doc["verdict"]["exit_code"] == whole_doc["verdict"]["exit_code"]
    assert merged_doc["verdict"]["must_failures"] == whole_doc["verdict"]["must_failures"]
    assert merged_doc["counts"]["tests"] == whole_doc["counts"]["tests"]
    junit = (tmp_path / "merged" / "junit.xml").read_text()
    assert junit.count("<testcase") == (tmp_path / "whole" / "junit.xml").read_text().count("<testcase")
