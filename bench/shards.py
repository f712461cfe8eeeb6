"""Shard balance: the slowest of N shards (run one after another) against the unsharded run.

    .venv/bin/python bench/shards.py [--runs 3] [--target local] [--profile full] [--shards 2 3]

Each round runs ``se-conformance run`` unsharded, then ``--shard 1/N … N/N`` for each N, each a whole
command (pytest start, PostgreSQL, the workers' SEs, the tests, the report), with ``-n 2``. Balance =
median slowest shard ÷ (median unsharded / N); the target (issue 10) is ≤ 1.25. Prints every command's
wall time and exit code, the merged exit code beside the unsharded one, and the medians of the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BALANCE_TARGET = 1.25


def one_run(out: Path, target: str, profile: str, shard: str | None = None) -> tuple[float, int, int]:
    """Wall seconds, exit code, tests run."""
    cmd = [sys.executable, "-m", "harness.cli", "run", "--target", target, "--profile", profile, "-n", "2",
           "--quiet", "--out", str(out), *(["--shard", shard] if shard else [])]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    try:
        tests = sum(json.loads((out / "report.json").read_text())["counts"]["tests"].values())
    except (OSError, ValueError, KeyError):
        tests = 0
    return elapsed, proc.returncode, tests


def merged_code(dirs: list[Path], out: Path) -> int:
    cmd = [sys.executable, "-m", "harness.cli", "merge", *map(str, dirs), "--out", str(out), "--quiet"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--target", default="local", choices=["local", "docker"])
    parser.add_argument("--profile", default="full")
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 3])
    args = parser.parse_args()
    whole: list[float] = []
    slowest: dict[int, list[float]] = {n: [] for n in args.shards}
    balance: dict[int, list[float]] = {n: [] for n in args.shards}
    with tempfile.TemporaryDirectory(prefix="se-bench-shards-") as tmp:
        for r in range(1, args.runs + 1):
            elapsed, code, tests = one_run(Path(tmp) / "whole", args.target, args.profile)
            whole.append(elapsed)
            print(f"round {r} unsharded: {elapsed:6.1f} s  exit {code}  {tests} tests", flush=True)
            for n in args.shards:
                dirs = [Path(tmp) / f"n{n}-{k}" for k in range(1, n + 1)]
                times = []
                for k, out in enumerate(dirs, 1):
                    t, c, count = one_run(out, args.target, args.profile, f"{k}/{n}")
                    times.append(t)
                    print(f"round {r} shard {k}/{n}: {t:6.1f} s  exit {c}  {count} tests", flush=True)
                merged = merged_code(dirs, Path(tmp) / f"merged-{n}")
                slowest[n].append(max(times))
                balance[n].append(max(times) / (elapsed / n))
                print(f"round {r} N={n}: slowest {max(times):.1f} s, balance {balance[n][-1]:.2f}, "
                      f"merged exit {merged} (unsharded {code})", flush=True)  # fmt: skip
    med_whole = statistics.median(whole)
    print(f"\nmedian unsharded: {med_whole:.1f} s")
    ok = True
    for n in args.shards:
        med_slowest = statistics.median(slowest[n])
        # The medians of the sitting, as the target is stated; per round the ratio swings with the load.
        ratio = med_slowest / (med_whole / n)
        ok &= ratio <= BALANCE_TARGET
        print(f"N={n}: median slowest shard {med_slowest:.1f} s, ideal {med_whole / n:.1f} s, balance {ratio:.2f} "
              f"({'met' if ratio <= BALANCE_TARGET else 'MISSED'}: target <= {BALANCE_TARGET}); per round "
              + ", ".join(f"{b:.2f}" for b in balance[n]))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
