"""Fleet verification, measured: ``se-conformance run --fleet`` against the sum of single runs.

    .venv/bin/python bench/fleet.py [--sizes 1,2,4] [--repeat 3] [-k EXPR] [--out DIR]

For each size N, ``se-conformance serve --fleet N`` (local target) brings N reference SEs up on one
PostgreSQL and writes their fleet file; then, ``--repeat`` times each, in turns: one ``run --fleet``
(profile core; one url-target run per SE, all at once, plus the fleet-wide checks) and the N single runs
``run --target url --profile core -n 0`` one after another. Prints the median wall times, their ratio
and every sample, and exits 1 when a run's exit code was not 0. The serve is stopped with SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.fleet.children import RunOptions, se_command  # noqa: E402
from harness.fleet.spec import load_fleet  # noqa: E402

CLI = [sys.executable, "-m", "harness.cli"]
READY_S = 180.0


def start_fleet(size: int, fleet_file: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*CLI, "serve", "--fleet", str(size), "--fleet-file", str(fleet_file)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + READY_S
    while not fleet_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise SystemExit(f"serve --fleet {size} did not come up (exit {proc.returncode})")
        time.sleep(0.5)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall time and exit code of ``cmd``; on Ctrl-C it gets SIGTERM and cleans up what it started."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        code = proc.wait()
    except BaseException:
        stop(proc)
        raise
    return time.monotonic() - start, code


def measure(size: int, repeat: int, keyword: str | None, work: Path) -> tuple[list[float], list[float], list[int]]:
    fleet_file = work / f"fleet-{size}.toml"
    serve = start_fleet(size, fleet_file)
    fleet_times, single_sums, codes = [], [], []
    try:
        fleet = load_fleet(fleet_file)
        extra = ["-k", keyword] if keyword else []
        for turn in range(repeat):
            wall, code = timed([*CLI, "run", "--fleet", str(fleet_file), "--out", str(work / f"f{size}-{turn}"),
                                "--quiet", *extra])  # fmt: skip
            fleet_times.append(wall)
            codes.append(code)
            total = 0.0
            for entry in fleet.entries:
                cmd = se_command(entry, work / f"s{size}-{turn}" / entry.name, RunOptions(keyword=keyword))
                wall, code = timed(cmd)
                total += wall
                codes.append(code)
            single_sums.append(total)
            print(
                f"  N={size} turn {turn + 1}: fleet {fleet_times[-1]:.1f} s, sum of singles {total:.1f} s", flush=True
            )
    finally:
        stop(serve)
    return fleet_times, single_sums, codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("-k", dest="keyword", default=None, help="pytest -k subset of each SE's run")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs' results here")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="se-bench-fleet-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, bad = [], False
    for size in (int(s) for s in args.sizes.split(",")):
        fleet_times, single_sums, codes = measure(size, args.repeat, args.keyword, work)
        bad = bad or any(codes)
        fleet_m, single_m = statistics.median(fleet_times), statistics.median(single_sums)
        rows.append((size, fleet_m, single_m, fleet_times, single_sums))
    print(f"\nprofile core{f', -k {args.keyword}' if args.keyword else ''}; medians of {args.repeat} turns")
    print("| SEs | run --fleet (s) | sum of single runs (s) | fleet ÷ sum | samples fleet / sum (s) |")
    print("|---|---|---|---|---|")
    for size, fleet_m, single_m, fleet_times, single_sums in rows:
        samples = ", ".join(f"{f:.1f}/{s:.1f}" for f, s in zip(fleet_times, single_sums, strict=True))
        print(f"| {size} | {fleet_m:.1f} | {single_m:.1f} | {fleet_m / single_m:.2f} | {samples} |")
    if bad:
        print("some run did not exit 0: see the results", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
