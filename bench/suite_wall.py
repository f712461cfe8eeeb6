"""Wall time of the conformance suite (profile ``full``) against the local reference, -n 1 vs -n 2.

    .venv/bin/python bench/suite_wall.py [--runs 3] [--target local]

Runs alternate (-n 1, -n 2, -n 1, ...) so drift on a noisy machine hits both equally. Prints every
run, the median per worker count and the speed-up ratio of the medians. Targets (issue 4): -n 2 within
60 s, and at least 1.5x faster than -n 1.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(workers: int, target: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "pytest", "suites", "--se-target", target, "--se-profile", "full",
           "-n", str(workers), "-q", "-p", "no:cacheprovider"]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else f"exit {proc.returncode}"
    return elapsed, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per worker count (default 3)")
    parser.add_argument("--target", default="local", choices=["local", "docker"])
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    for i in range(args.runs):
        for workers in (1, 2):
            elapsed, summary = one_run(workers, args.target)
            times[workers].append(elapsed)
            print(f"run {i + 1} -n {workers}: {elapsed:6.1f} s   {summary}", flush=True)
    med1, med2 = statistics.median(times[1]), statistics.median(times[2])
    print(f"\nmedian -n 1: {med1:.1f} s   median -n 2: {med2:.1f} s   speed-up: {med1 / med2:.2f}x")
    print(f"targets: -n 2 <= 60 s: {'met' if med2 <= 60 else 'MISSED'}; "
          f"speed-up >= 1.5x: {'met' if med1 / med2 >= 1.5 else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
