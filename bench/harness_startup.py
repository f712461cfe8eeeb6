"""Time from nothing to a ready SE with its PostgreSQL, as the harness brings them up.

    .venv/bin/python bench/harness_startup.py --target docker|local [--runs 5]

"Nothing" means no container, network or volume of the run exists; images are warm (built once
before the first run, not timed). Each run: the controller's part (image check, network, PostgreSQL
container until it answers SQL from the host) then the worker's part (volume, SE container until
/health/ready answers 200). Prints the median and range of every phase; the target is <= 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.profile import load_profile
from harness.runstate import new_run_id
from harness.tokens import TokenFactory

Phases = dict[str, float]


def timed(run_id: str, start_db: Callable[[], Any], make_target: Callable[[Any], Any],
          stop_db: Callable[[], None], db_phase: str) -> Phases:  # fmt: skip
    """Time PostgreSQL up, then the main SE up; tear both down (timed apart)."""
    phases: Phases = {}
    started = time.monotonic()
    target = None
    try:
        database = start_db()
        phases[db_phase] = time.monotonic() - started
        mark = time.monotonic()
        target = make_target(database)
        target.main_se()
        phases["SE ready"] = time.monotonic() - mark
        phases["total"] = time.monotonic() - started
    finally:
        mark = time.monotonic()
        if target is not None:
            target.close()
        stop_db()
        phases["teardown (not in total)"] = time.monotonic() - mark
    return phases


def docker_once(workdir: Path) -> Phases:
    from harness.images.common import quiet_log
    from harness.targets.docker import DockerRun, DockerTarget

    run_id = new_run_id()
    key = TokenFactory().write_public_key(workdir / f"{run_id}.pem")
    docker_run = DockerRun(run_id=run_id, log=quiet_log)

    def make_target(shared_docker: dict[str, Any]) -> DockerTarget:
        shared = {"run_id": run_id, "public_key_path": str(key), "database": shared_docker["database"],
                  "docker": shared_docker}  # fmt: skip
        return DockerTarget(shared=shared, worker="bench", profile=load_profile(None))

    return timed(run_id, docker_run.start, make_target, docker_run.stop,
                 "postgres ready (incl. image check, network)")  # fmt: skip


def local_once(workdir: Path) -> Phases:
    from harness.postgres.local import LocalPostgres
    from harness.targets.local import LocalTarget

    run_id = new_run_id()
    key = TokenFactory().write_public_key(workdir / f"{run_id}.pem")
    postgres = LocalPostgres(run_id=run_id, name="pg-bench")

    def make_target(database: Any) -> LocalTarget:
        return LocalTarget(run_id=run_id, worker="bench", profile=load_profile(None), database=database,
                           public_key_path=key)  # fmt: skip

    return timed(run_id, postgres.start, make_target, postgres.destroy,
                 "postgres ready (copy of the template cluster)")  # fmt: skip


TARGETS: dict[str, Callable[[Path], Phases]] = {"docker": docker_once, "local": local_once}


def warm_up(target: str) -> None:
    if target == "local":
        # The first local run ever makes the template cluster (initdb): a one-time cost, not timed.
        with tempfile.TemporaryDirectory() as tmp:
            local_once(Path(tmp))
        return
    if target == "docker":
        from harness.images import ensure_images

        started = time.monotonic()
        ensure_images()
        print(f"images: {time.monotonic() - started:.1f}s (warm-up, not timed below)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=sorted(TARGETS), default="docker")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    warm_up(args.target)
    results: list[Phases] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.runs):
            phases = TARGETS[args.target](Path(tmp))
            results.append(phases)
            print(f"run {index + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()), file=sys.stderr)
    print(f"{args.target}: median of {args.runs} runs (min-max)")
    for phase in results[0]:
        values = [r[phase] for r in results]
        print(f"  {phase:<45} {statistics.median(values):6.2f}s  ({min(values):.2f}-{max(values):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
