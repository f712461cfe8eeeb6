"""Run the mutation self-test: each variant of the reference must be caught by the requirements it breaks.

    python -m tests.mutation.runner                 # control + every variant, 2 at a time
    python -m tests.mutation.runner --only NAME     # one variant (repeatable), plus the control
    python -m tests.mutation.runner --no-control    # skip the control run
    python -m tests.mutation.runner --list          # the variants and what they must catch

For each variant: copy ``reference_service/`` to a temporary directory, apply the variant's edits, run
the suite restricted (``--se-req``) to the variant's ``catches`` against that copy, and read the JUnit
report. Verdicts: **caught** (every id in ``catches`` has a test that failed naming it), **partial**,
**not caught**, **error** (an edit does not apply, the run timed out or produced no report). The
**control** runs the unpatched copy through the same path, restricted to every id any variant catches,
and must pass: otherwise a variant's failures prove nothing. Exit status 0 when the control passed and
every variant was caught, 1 otherwise, 2 on a usage error, 130 when interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tests.mutation import junit
from tests.mutation.execution import RunError, forget_bytecode, run_suite, stop_all
from tests.mutation.patching import EditError, prepare
from tests.mutation.variants import Variant, all_catches, load_variants

CAUGHT, PARTIAL, NOT_CAUGHT, ERROR = "caught", "partial", "not caught", "error"
PASSED, FAILED = "passed", "failed"  # verdicts of the control
CONTROL = "control"
DEFAULT_JOBS = 2
DEFAULT_TIMEOUT_S = 240.0
CONTROL_TIMEOUT_S = 480.0


@dataclass
class Outcome:
    name: str
    verdict: str
    catches: tuple[str, ...] = ()
    caught: tuple[str, ...] = ()  # ids of ``catches`` named by a failure
    seconds: float = 0.0
    detail: str = ""
    results: list[junit.TestResult] = field(default_factory=list)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(rid for rid in self.catches if rid not in self.caught)

    @property
    def ok(self) -> bool:
        return self.verdict in (CAUGHT, PASSED)

    def problems(self) -> list[junit.TestResult]:
        return [r for r in self.results if r.outcome in (junit.FAILED, junit.ERROR)]

    def describe(self) -> str:
        """A report for humans: the verdict and why."""
        head = f"{self.name}: {self.verdict} ({self.seconds:.0f}s)"
        lines = [head]
        if self.verdict in (PARTIAL, NOT_CAUGHT):
            lines.append(f"  not caught: {', '.join(self.missing)} (no test failed naming them)")
        for rid in self.caught:
            first = next(r for r in self.problems() if r.requirement == rid)
            lines.append(f"  caught {rid}: {first.nodeid}: {first.message[:200]}")
        if self.verdict in (PARTIAL, NOT_CAUGHT, FAILED):
            for r in self.problems()[:12]:
                lines.append(f"  {r.outcome}: {r.nodeid} [{r.requirement or '-'}] {r.message[:160]}")
        if self.detail:
            lines.append("  " + self.detail.replace("\n", "\n  "))
        return "\n".join(lines)


def verdict_of(name: str, catches: tuple[str, ...], results: list[junit.TestResult], seconds: float) -> Outcome:
    named = {r.requirement for r in results if r.outcome in (junit.FAILED, junit.ERROR) and r.requirement}
    caught = tuple(rid for rid in catches if rid in named)
    if not results:
        return Outcome(name, ERROR, catches, (), seconds, "the run selected no test", results)
    verdict = CAUGHT if len(caught) == len(catches) else PARTIAL if caught else NOT_CAUGHT
    return Outcome(name, verdict, catches, caught, seconds, "", results)


def control_verdict(catches: tuple[str, ...], results: list[junit.TestResult], seconds: float) -> Outcome:
    outcome = Outcome(CONTROL, PASSED, catches, (), seconds, "", results)
    if not results:
        outcome.verdict, outcome.detail = ERROR, "the run selected no test"
    elif outcome.problems():
        outcome.verdict = FAILED
        outcome.detail = "the unpatched reference fails these tests: no variant verdict can be trusted for them"
    return outcome


def _run(name: str, catches: tuple[str, ...], variant: Variant | None, timeout_s: float, keep: bool) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix=f"se-mutant-{name}-"))
    work.chmod(0o755)  # the harness's PostgreSQL runs as the postgres user below it
    started = time.monotonic()
    try:
        copy = prepare(work / "copy", variant.edits if variant else (), name)
        run = run_suite(copy, list(catches), work, timeout_s)
        results = junit.parse(run.junit)
        if variant is None:
            return control_verdict(catches, results, run.seconds)
        return verdict_of(name, catches, results, run.seconds)
    except (EditError, RunError) as exc:
        return Outcome(name, ERROR, catches, (), time.monotonic() - started, str(exc))
    finally:
        forget_bytecode(work)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def run_variant(variant: Variant, *, timeout_s: float = DEFAULT_TIMEOUT_S, keep: bool = False) -> Outcome:
    return _run(variant.name, variant.catches, variant, timeout_s, keep)


def run_control(variants: Iterable[Variant], *, timeout_s: float = CONTROL_TIMEOUT_S, keep: bool = False) -> Outcome:
    """The unpatched reference through the same path, restricted to everything the variants catch."""
    return _run(CONTROL, tuple(all_catches(list(variants))), None, timeout_s, keep)


def run_all(
    variants: list[Variant],
    *,
    control: bool = True,
    jobs: int = DEFAULT_JOBS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    keep: bool = False,
    report: Callable[[Outcome], None] = lambda _: None,
) -> list[Outcome]:
    """The control (first, as it is the longest) and the variants, ``jobs`` at a time."""
    outcomes: list[Outcome] = []
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = []
    if control:
        futures.append(pool.submit(run_control, variants, keep=keep))
    futures += [pool.submit(run_variant, v, timeout_s=timeout_s, keep=keep) for v in variants]
    try:
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            report(outcome)
    except BaseException:  # Ctrl-C: start nothing more, stop what runs
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        raise
    pool.shutdown()
    order = {v.name: i for i, v in enumerate(variants)}
    return sorted(outcomes, key=lambda o: order.get(o.name, -1))


def _list(variants: list[Variant]) -> None:
    for v in variants:
        print(f"{v.name}\n  catches: {', '.join(v.catches)}\n  {v.description}")


def summary(outcomes: list[Outcome], seconds: float) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        if o.name != CONTROL:
            counts[o.verdict] = counts.get(o.verdict, 0) + 1
    control = next((o.verdict for o in outcomes if o.name == CONTROL), "not run")
    parts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    return f"mutation self-test: {parts or 'no variant'}; control {control}; {seconds:.0f}s"


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation.runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this variant (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--no-control", action="store_true", help="skip the control run of the unpatched reference")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"runs at a time (default {DEFAULT_JOBS})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per variant run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories (for debugging)")
    args = parser.parse_args(argv)
    variants = load_variants()
    if args.only:
        unknown = sorted(set(args.only) - {v.name for v in variants})
        if unknown:
            parser.error(f"unknown variant(s): {', '.join(unknown)}; see --list")
        variants = [v for v in variants if v.name in args.only]
    if args.list:
        _list(variants)
        return 0
    signal.signal(signal.SIGTERM, _interrupt)  # a CI timeout: stop the child runs too
    started = time.monotonic()
    try:
        outcomes = run_all(
            variants, control=not args.no_control, jobs=args.jobs, timeout_s=args.timeout, keep=args.keep,
            report=lambda o: print(o.describe(), flush=True),
        )  # fmt: skip
    except KeyboardInterrupt:
        print("\ninterrupted: the runs in progress were stopped", file=sys.stderr)
        return 130
    print("\n" + summary(outcomes, time.monotonic() - started))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
