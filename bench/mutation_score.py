"""The sampled mutation score of the conformance suite: cosmic-ray over ``reference_service/``.

    .venv/bin/python bench/mutation_score.py init [--seed N] [--size N] [--min-per-module N] [--force]
    .venv/bin/python bench/mutation_score.py run [--workers 2] [--worker-url URL ...]   # resumable
    .venv/bin/python bench/mutation_score.py report [--markdown] [--no-write]
    .venv/bin/python bench/mutation_score.py worker --snapshot DIR --host 0.0.0.0 --port 9876  # another machine

``init`` makes a cosmic-ray session over a snapshot of the reference, filters it and draws a seeded,
stratified sample (every other item SKIPPED); ``run`` starts HTTP workers in copies of their own and
executes the pending items (Ctrl-C stops everything; run it again to continue); ``report`` prints the
score per module and writes ``mutants/cosmic_ray/scores.json``. ``judge`` is the test command the
workers run for each mutant. Out of CI: ~300 mutants take hours. See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "bench"), str(REPO)]

from cosmic_ray.work_db import WorkDB, use_db  # noqa: E402
from cosmic_ray.work_item import TestOutcome, WorkResult  # noqa: E402
from sampled_mutation import judge, procs, results, sampling, workers  # noqa: E402
from sampled_mutation.paths import (  # noqa: E402
    CONFIG,
    DEFAULT_SESSION,
    SCORES,
    SURVIVORS,
    Sampling,
    Session,
    engine_config,
)
from sampled_mutation.paths import sampling as sampling_of  # noqa: E402


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def cmd_init(args: argparse.Namespace) -> int:
    config = engine_config(args.config)
    base = sampling_of(config)
    plan = Sampling(args.seed if args.seed is not None else base.seed, args.size or base.size,
                    args.min_per_module if args.min_per_module is not None else base.min_per_module)  # fmt: skip
    meta = sampling.init(Session(args.session), config, args.config, plan, revision=args.revision, force=args.force)
    sample = meta["sample"]
    population, sample = sum(meta["population"].values()), sum(meta["sample"].values())
    print(f"{meta['generated']} mutants generated; filtered: {meta['filtered_operators']} by operator, "
          f"{meta['filtered_annotations']} in annotations, {meta['filtered_stillborn']} do not compile; "
          f"population {population} in {len(meta['population'])} modules; sample {sample} (seed {plan.seed}) "
          f"in {args.session}")  # fmt: skip
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    session = Session(args.session)
    meta = session.meta()
    config = engine_config(args.config)
    for stale in workers.sweep_stale():
        print(f"removed the copy of a run that died: {stale}")
    added: list[str] = []
    if args.requeue_test_added:
        items, _warnings = results.collect(session, SURVIVORS)
        added = [i.job_id for i in items if i.review is not None and i.review.verdict == results.TEST_ADDED]
    again = workers.requeue(
        session.database,
        no_verdict=args.retry_no_verdict,
        survivors=args.requeue_survivors,
        jobs=added,
        timeouts=args.retry_timeout,
    )
    if again:
        print(f"{again} item(s) queued again")
    with use_db(str(session.database), WorkDB.Mode.open) as db:
        pending, labels = workers.pending_count(db), workers.job_label(db)
        total = sum(1 for i in results.load_items(db))
    if not pending:
        print("nothing pending: `report` shows the results")
        return 0
    if not args.workers and not args.worker_url:
        print("no workers: give --workers N and/or --worker-url URL", file=sys.stderr)
        return 2
    lock = session.root / "run.pid"
    if (other := procs.alive(lock)) is not None:
        print(f"another run (pid {other}) is executing this session", file=sys.stderr)
        return 2
    procs.record(lock)
    signal.signal(signal.SIGTERM, _interrupt)
    started, started_at, recorded, interrupted = time.monotonic(), datetime.now(UTC), 0, False
    print(f"{pending} of {total} sampled mutants pending; {args.workers} local worker(s)"
          + (f" + {len(args.worker_url)} remote" if args.worker_url else ""), flush=True)  # fmt: skip

    def progress(job_id: str, result: WorkResult) -> None:
        nonlocal recorded
        recorded += 1
        seconds = results.field_of(result.output, "seconds")
        print(f"[{recorded}/{pending}] {labels.get(job_id, job_id)} -> {workers.describe(result)}"
              + (f" ({seconds}s)" if seconds else ""), flush=True)  # fmt: skip

    try:
        with workers.local_workers(session.snapshot, args.workers) as urls:
            urls += args.worker_url or []
            if not args.no_baseline:
                print("baseline: the unmutated snapshot through a worker ...", flush=True)
                base = workers.baseline(config, urls, session.root)
                if base.test_outcome != TestOutcome.SURVIVED:
                    print(f"the baseline did not pass: {workers.describe(base)}\n{base.output}", file=sys.stderr)
                    return 1
                print(f"baseline passed ({results.field_of(base.output, 'seconds')}s)", flush=True)
            with use_db(str(session.database), WorkDB.Mode.open) as db:
                workers.execute(db, config, urls, progress)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: workers and judges stopped, copies removed; `run` again continues", file=sys.stderr)
    finally:
        meta = session.meta()
        meta["runs"].append({"started": started_at.isoformat(timespec="seconds"),
                             "seconds": round(time.monotonic() - started, 1), "workers": args.workers,
                             "remote_workers": len(args.worker_url or []), "recorded": recorded,
                             "interrupted": interrupted})  # fmt: skip
        session.write_meta(meta)
        lock.unlink(missing_ok=True)
    return 130 if interrupted else 0


def cmd_report(args: argparse.Namespace) -> int:
    session = Session(args.session)
    items, warnings = results.collect(session, args.survivors)
    command = "python bench/mutation_score.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    data = results.scores(session, items, command)
    print(results.markdown(data) if args.markdown else results.text(data, items, warnings))
    if not args.no_write:
        results.write(args.scores, data)
        print(f"\nwrote {args.scores}", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    if args.in_place:
        return workers.serve(Path.cwd(), args.host, args.port)
    if args.snapshot is None:
        print("worker: give --snapshot DIR (the session's snapshot directory) or --in-place", file=sys.stderr)
        return 2
    return workers.standalone(args.snapshot, args.host, args.port)


def cmd_judge(args: argparse.Namespace) -> int:
    return judge.main(args.timeout, args.keep)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/mutation_score.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--session", type=Path, default=DEFAULT_SESSION, help=f"session directory ({DEFAULT_SESSION})")
    common.add_argument("--config", type=Path, default=CONFIG, help=f"cosmic-ray config ({CONFIG})")
    init = sub.add_parser("init", parents=[common], help="new session: mutants, filters, the seeded sample")
    init.add_argument("--seed", type=int, help="sample seed (config: sampling.seed)")
    init.add_argument("--size", type=int, help="sample size (config: sampling.size)")
    init.add_argument("--min-per-module", type=int, help="at least this many per module (config)")
    init.add_argument("--revision", default="HEAD", help="the commit whose reference is mutated (HEAD)")
    init.add_argument("--force", action="store_true", help="replace a session that already has results")
    init.set_defaults(func=cmd_init)
    run = sub.add_parser("run", parents=[common], help="execute the pending sampled mutants (resumable)")
    run.add_argument("--workers", type=int, default=2, help="local HTTP workers on 127.0.0.1 (default 2)")
    run.add_argument("--worker-url", action="append", metavar="URL", help="a remote worker too (repeatable)")
    run.add_argument("--no-baseline", action="store_true", help="skip the unmutated baseline run")
    run.add_argument("--retry-no-verdict", action="store_true", help="queue the no-verdict items again")
    run.add_argument("--retry-timeout", action="store_true", help="queue the timed-out items again")
    run.add_argument("--requeue-survivors", action="store_true", help="queue every survivor again")
    run.add_argument(
        "--requeue-test-added",
        action="store_true",
        help=f"queue the survivors reviewed test-added in {SURVIVORS.name} again",
    )
    run.set_defaults(func=cmd_run)
    report = sub.add_parser("report", parents=[common], help="the score per module; writes the scores file")
    report.add_argument("--survivors", type=Path, default=SURVIVORS, help=f"reviewed survivors ({SURVIVORS})")
    report.add_argument("--scores", type=Path, default=SCORES, help=f"the scores file to write ({SCORES})")
    report.add_argument("--no-write", action="store_true", help="print only")
    report.add_argument("--markdown", action="store_true", help="print only the markdown tables")
    report.set_defaults(func=cmd_report)
    worker = sub.add_parser("worker", help="a cosmic-ray HTTP worker in a copy of its own")
    worker.add_argument("--port", type=int, required=True)
    worker.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    worker.add_argument("--snapshot", type=Path, help="the session's snapshot directory (copied to a temp dir)")
    worker.add_argument("--in-place", action="store_true", help="serve from the cwd (a copy `run` made)")
    worker.set_defaults(func=cmd_worker)
    judge_ = sub.add_parser("judge", help="the test command: the suite against the reference in the cwd")
    judge_.add_argument("--timeout", type=float, default=540.0, help="seconds for the suite run (default 540)")
    judge_.add_argument("--keep", action="store_true", help="keep the run's directory (debugging)")
    judge_.set_defaults(func=cmd_judge)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
