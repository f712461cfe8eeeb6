"""Flakiness, measured: the whole suite N times on one target; every test whose outcome differed.

    .venv/bin/python bench/flake.py --runs 10 --target local [--workers 2] [--out DIR]

Each run writes its JSON report (``--se-report-json``); the script compares the tests' own outcomes
across runs and, per requirement, the requirement's outcome. It prints the tests with differing
outcomes (with the message of each differing run), the runs' error counts, strict verdicts and wall
times, and exits 1 when any test differed or any run had an error, no report or a strict verdict other
than conformant. Bounded: a run is killed after
``--timeout`` seconds, and the whole loop stops after ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def one_run(target: str, workers: int, report: Path, timeout_s: float) -> tuple[float, dict[str, Any] | None, str]:
    cmd = [sys.executable, "-m", "pytest", "suites", "--se-target", target, "-n", str(workers), "-q",
           "-p", "no:cacheprovider", "-p", "no:randomly", "--se-report-json", str(report)]  # fmt: skip
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False)
        tail = (proc.stdout.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    except subprocess.TimeoutExpired:
        tail = f"killed after {timeout_s:.0f} s"
    elapsed = time.monotonic() - start
    doc = json.loads(report.read_text()) if report.exists() else None
    return elapsed, doc, tail


def test_outcomes(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """nodeid → (the test's own outcome, its message), from every requirement's test entries."""
    found: dict[str, tuple[str, str]] = {}
    for req in doc["requirements"]:
        for test in req["tests"]:
            found[test["nodeid"]] = (test.get("test_outcome", test["outcome"]), test["message"])
    for test in doc.get("unmapped_tests", []):
        found[test["nodeid"]] = (test["outcome"], test["message"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--target", default="local", choices=["local", "docker"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run (default 900)")
    parser.add_argument("--out", type=Path, default=None, help="keep the reports here (default: a temp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="se-flake-"))
    out.mkdir(parents=True, exist_ok=True)
    per_test: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    per_req: dict[str, set[str]] = defaultdict(set)
    times: list[float] = []
    broken_runs = 0
    total_errors = 0
    not_conformant = 0  # strict: a failed or blocked requirement of the reference is a defect too
    for i in range(1, args.runs + 1):
        elapsed, doc, tail = one_run(args.target, args.workers, out / f"run-{i}.json", args.timeout)
        times.append(elapsed)
        if doc is None:
            broken_runs += 1
            print(f"run {i}: {elapsed:6.1f} s  NO REPORT  {tail}", flush=True)
            continue
        errors = doc["counts"]["tests"].get("error", 0)
        total_errors += errors
        strict = doc["verdict"].get("strict_exit_code", doc["verdict"]["exit_code"])
        not_conformant += strict != 0
        print(f"run {i}: {elapsed:6.1f} s  exit {doc['verdict']['exit_code']} (strict {strict})  errors {errors}  "
              f"{tail}", flush=True)  # fmt: skip
        for nodeid, (outcome, message) in test_outcomes(doc).items():
            per_test[nodeid].append((i, outcome, message))
        for req in doc["requirements"]:
            per_req[req["id"]].add(req["outcome"])
    flaky = {nodeid: seen for nodeid, seen in per_test.items() if len({o for _, o, _ in seen}) > 1}
    wobbly = {rid: outcomes for rid, outcomes in per_req.items() if len(outcomes) > 1}
    print(f"\n{args.runs} runs on {args.target} (-n {args.workers}): median {statistics.median(times):.1f} s, "
          f"{len(per_test)} tests, {len(flaky)} with differing outcomes, {total_errors} errors, "
          f"{broken_runs} runs without a report, {not_conformant} not conformant (strict); "
          f"requirements with differing outcomes: {len(wobbly)}")  # fmt: skip
    for nodeid, seen in sorted(flaky.items()):
        print(f"  {nodeid}")
        for run, outcome, message in seen:
            print(f"    run {run}: {outcome}  {message.splitlines()[0][:160] if message else ''}")
    for rid, outcomes in sorted(wobbly.items()):
        print(f"  requirement {rid}: {', '.join(sorted(outcomes))}")
    print(f"reports: {out}")
    return 1 if flaky or total_errors or broken_runs or not_conformant else 0


if __name__ == "__main__":
    sys.exit(main())
