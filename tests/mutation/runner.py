"""Run the mutation self-test: measure the precision and recall of the suite's verdicts per requirement.

    python -m tests.mutation.runner                 # control + every variant, 2 at a time (a measurement)
    python -m tests.mutation.runner --ci            # control + compounds + the CI singles (what CI runs)
    python -m tests.mutation.runner --only NAME     # one variant (repeatable), plus the control
    python -m tests.mutation.runner --no-control    # skip the control run
    python -m tests.mutation.runner --list          # the variants and the exact set each breaks

For each variant: copy ``reference_service/``, apply the variant's edits, run the **whole** suite against
the copy on the local target with ``--se-report-json`` and read the requirements reported ``fail``. That
set is compared with the variant's declared exact set (``catches``) both ways: a declared requirement not
reported failed is **missing** (a blind spot: recall), a reported one not declared is **extra** (a false
alarm: precision). Verdicts: **exact**, **missing**, **extra**, **both**, **error** (an edit does not
apply, the run timed out or wrote no report, or a requirement's outcome is ``error``). The **control**
(the unpatched copy, same path) must have no failed, errored or blocked requirement: otherwise a variant's
failures prove nothing. Exit status 0 when the control is clean and every variant is exact, 1 otherwise,
2 on a usage error, 130 when interrupted (Ctrl-C, SIGTERM).
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
from dataclasses import dataclass
from pathlib import Path

from tests.mutation import report as json_report
from tests.mutation.execution import RunError, forget_bytecode, run_suite, stop_all
from tests.mutation.patching import EditError, prepare
from tests.mutation.variants import Part, Variant, VariantError, ci_selection, load_ci_names, load_variants

EXACT, MISSING, EXTRA, BOTH, ERROR = "exact", "missing", "extra", "both", "error"
CLEAN, DIRTY = "clean", "dirty"  # verdicts of the control
CONTROL = "control"
DEFAULT_JOBS = 2
DEFAULT_TIMEOUT_S = 360.0
MESSAGE_CHARS = 220
EVIDENCE_TESTS = 3  # tests shown per missing/extra/errored requirement


@dataclass
class Outcome:
    name: str
    verdict: str
    declared: tuple[str, ...] = ()  # the exact set the variant declares (the control: none)
    failed: tuple[str, ...] = ()  # requirements the report says "fail"
    errored: tuple[str, ...] = ()  # requirements the report says "error"
    seconds: float = 0.0
    detail: str = ""
    report: json_report.Report | None = None
    compound: bool = False

    @property
    def correct(self) -> tuple[str, ...]:
        return tuple(rid for rid in self.declared if rid in self.failed)

    @property
    def missing(self) -> tuple[str, ...]:
        """Declared but not reported failed: a blind spot of the suite."""
        return tuple(rid for rid in self.declared if rid not in self.failed)

    @property
    def extra(self) -> tuple[str, ...]:
        """Reported failed but not declared: a false alarm (or an incomplete declaration)."""
        return tuple(rid for rid in self.failed if rid not in self.declared)

    @property
    def measured(self) -> bool:
        """The run produced a report, so its sets count in precision and recall."""
        return self.report is not None

    @property
    def ok(self) -> bool:
        return self.verdict in (EXACT, CLEAN)

    def _evidence(self, label: str, rid: str) -> list[str]:
        tests = self.report.evidence(rid) if self.report else []
        if not tests:
            return [f"  {label} {rid}: the report has no test for it"]
        lines = [f"  {label} {rid}:"]
        for t in tests[:EVIDENCE_TESTS]:
            message = " ".join(t.message.split())[:MESSAGE_CHARS]
            lines.append(f"      {t.outcome}: {t.nodeid}" + (f": {message}" if message else ""))
        if len(tests) > EVIDENCE_TESTS:
            lines.append(f"      ... and {len(tests) - EVIDENCE_TESTS} more tests")
        return lines

    def describe(self) -> str:
        """A report for humans: the verdict and why."""
        kind = " (compound)" if self.compound else ""
        lines = [f"{self.name}{kind}: {self.verdict} ({self.seconds:.0f}s)"]
        if self.name != CONTROL and self.measured:
            lines.append(f"  declared {len(self.declared)}, reported failed {len(self.failed)}, "
                         f"correct {len(self.correct)}")  # fmt: skip
        for rid in self.missing if self.name != CONTROL and self.measured else ():
            lines += self._evidence("missing (blind spot)", rid)
        for rid in self.extra:
            lines += self._evidence("extra (false alarm)" if self.name != CONTROL else "failed", rid)
        for rid in self.errored:
            lines += self._evidence("error (no verdict)", rid)
        for t in self.report.unmapped_problems() if self.report else ():
            lines.append(f"  {t.outcome} without a requirement: {t.nodeid}: {t.message[:MESSAGE_CHARS]}")
        if self.detail:
            lines.append("  " + self.detail.replace("\n", "\n  "))
        return "\n".join(lines)


def no_verdict_reasons(report: json_report.Report) -> list[str]:
    """Why a suite run's report gives no verdict (shared with bench/sampled_mutation/judge.py)."""
    reasons = []
    if not report.requirements:
        reasons.append("the run checked no requirement")
    if report.errored:
        reasons.append(f"no verdict (outcome error) for {', '.join(report.errored)}")
    if report.unmapped_problems():
        reasons.append(f"{len(report.unmapped_problems())} test(s) without a requirement failed or errored")
    return reasons


def judge(name: str, declared: tuple[str, ...], report: json_report.Report, seconds: float) -> Outcome:
    """A variant's verdict: its declared exact set against the requirements the report says failed."""
    outcome = Outcome(name, ERROR, declared, report.failed, report.errored, seconds, "", report)
    reasons = no_verdict_reasons(report)
    if reasons:
        outcome.detail = "error: " + "; ".join(reasons)
    elif outcome.missing and outcome.extra:
        outcome.verdict = BOTH
    elif outcome.missing:
        outcome.verdict = MISSING
    elif outcome.extra:
        outcome.verdict = EXTRA
    else:
        outcome.verdict = EXACT
    return outcome


def control_verdict(report: json_report.Report, seconds: float) -> Outcome:
    """The unpatched reference must have no failed, errored or blocked requirement (blocked there: a
    test whose checks never ran, so no variant could ever fail that requirement through it)."""
    outcome = Outcome(CONTROL, CLEAN, (), report.failed, report.errored + report.blocked, seconds, "", report)
    if not report.requirements:
        outcome.verdict, outcome.detail = ERROR, "error: the run checked no requirement"
    elif report.failed or report.errored or report.blocked or report.unmapped_problems():
        outcome.verdict = DIRTY
        outcome.detail = ("the unpatched reference fails, errs or is blocked here: no variant verdict can be "
                          "trusted for these requirements; fix the reference or the suite first")  # fmt: skip
    return outcome


@dataclass(frozen=True)
class Score:
    """Precision and recall summed over the measured variants (the control excluded)."""

    correct: int  # reported failed and declared
    reported: int  # reported failed
    declared: int
    measured: int  # variants with a report
    unmeasured: tuple[str, ...]  # variants without a report (edit error, timeout, crash)

    @property
    def precision(self) -> float | None:
        return self.correct / self.reported if self.reported else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.declared if self.declared else None


def score(outcomes: Iterable[Outcome]) -> Score:
    variants = [o for o in outcomes if o.name != CONTROL]
    measured = [o for o in variants if o.measured]
    return Score(
        correct=sum(len(o.correct) for o in measured),
        reported=sum(len(o.failed) for o in measured),
        declared=sum(len(o.declared) for o in measured),
        measured=len(measured),
        unmeasured=tuple(o.name for o in variants if not o.measured),
    )


def per_requirement(outcomes: Iterable[Outcome]) -> dict[str, tuple[list[str], list[str]]]:
    """Requirement → (variants where it was a false alarm, variants where it was a blind spot)."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for o in outcomes:
        if o.name == CONTROL or not o.measured:
            continue
        for rid in o.extra:
            found.setdefault(rid, ([], []))[0].append(o.name)
        for rid in o.missing:
            found.setdefault(rid, ([], []))[1].append(o.name)
    return dict(sorted(found.items()))


def _run(name: str, declared: tuple[str, ...], parts: tuple[Part, ...] | None, timeout_s: float,
         keep: bool, compound: bool = False, reports: Path | None = None,
         pytest_args: tuple[str, ...] = ()) -> Outcome:  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix=f"se-mutant-{name}-"))
    work.chmod(0o755)  # the harness's PostgreSQL runs as the postgres user below it
    started = time.monotonic()
    try:
        copy = prepare(work / "copy", parts or (), name)
        run = run_suite(copy, work, timeout_s, pytest_args)
        if reports is not None:
            reports.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.report, reports / f"{name}.json")
        report = json_report.load(run.report)
        if parts is None:
            return control_verdict(report, run.seconds)
        outcome = judge(name, declared, report, run.seconds)
        outcome.compound = compound
        return outcome
    except (EditError, RunError, json_report.ReportError) as exc:
        detail = str(exc) + (f"\n(kept: {work})" if keep else "")
        return Outcome(name, ERROR, declared, seconds=time.monotonic() - started, detail=detail, compound=compound)
    finally:
        forget_bytecode(work)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def run_variant(
    variant: Variant, *, timeout_s: float = DEFAULT_TIMEOUT_S, keep: bool = False, reports: Path | None = None
) -> Outcome:
    return _run(
        variant.name, variant.catches, variant.parts, timeout_s, keep, variant.compound, reports, variant.pytest_args
    )


def run_control(*, timeout_s: float = DEFAULT_TIMEOUT_S, keep: bool = False, reports: Path | None = None) -> Outcome:
    """The unpatched reference through the same path: the whole suite, which must not fail or err anywhere."""
    return _run(CONTROL, (), None, timeout_s, keep, reports=reports)


def run_all(
    variants: list[Variant],
    *,
    control: bool = True,
    jobs: int = DEFAULT_JOBS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    keep: bool = False,
    reports: Path | None = None,
    report: Callable[[Outcome], None] = lambda _: None,
) -> list[Outcome]:
    """The control first, then the compounds (the longest), then the singles, ``jobs`` at a time."""
    outcomes: list[Outcome] = []
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = []
    if control:
        futures.append(pool.submit(run_control, timeout_s=timeout_s, keep=keep, reports=reports))
    ordered = sorted(variants, key=lambda v: not v.compound)  # stable: file order within each kind
    futures += [pool.submit(run_variant, v, timeout_s=timeout_s, keep=keep, reports=reports) for v in ordered]
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


def _list(variants: list[Variant], ci: set[str]) -> None:
    for v in variants:
        marks = ", ".join(m for m, on in (("compound", v.compound), ("ci", v.name in ci)) if on)
        print(f"{v.name}" + (f" [{marks}]" if marks else ""))
        if v.compound:
            print(f"  combines: {', '.join(v.combine)}")
        if v.pytest_args:
            print(f"  suite run with: {' '.join(v.pytest_args)}")
        print(f"  breaks exactly ({len(v.catches)}): {', '.join(v.catches)}\n  {v.description}")


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary(outcomes: list[Outcome], seconds: float) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        if o.name != CONTROL:
            counts[o.verdict] = counts.get(o.verdict, 0) + 1
    control = next((o.verdict for o in outcomes if o.name == CONTROL), "not run")
    parts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    s = score(outcomes)
    lines = []
    table = per_requirement(outcomes)
    if table:
        lines.append("requirements with false alarms (extra) or blind spots (missing):")
        for rid, (extra, missing) in table.items():
            what = [f"extra in {', '.join(extra)}"] if extra else []
            what += [f"missing in {', '.join(missing)}"] if missing else []
            lines.append(f"  {rid}: {'; '.join(what)}")
    lines.append(
        f"precision {_ratio(s.precision)} ({s.correct} of {s.reported} reported failures declared), "
        f"recall {_ratio(s.recall)} ({s.correct} of {s.declared} declared failures reported), "
        f"over {s.measured} measured variants"
        + (f"; not measured (no report): {', '.join(s.unmeasured)}" if s.unmeasured else "")
    )
    lines.append(f"mutation self-test: {parts or 'no variant'}; control {control}; {seconds:.0f}s")
    return "\n".join(lines)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation.runner", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only", action="append", metavar="NAME", help="run only this variant (repeatable)")
    which.add_argument("--ci", action="store_true", help="run the CI selection: every compound and the `ci` singles")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--no-control", action="store_true", help="skip the control run of the unpatched reference")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"runs at a time (default {DEFAULT_JOBS})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds per run (default {DEFAULT_TIMEOUT_S:.0f})")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories (for debugging)")
    parser.add_argument("--reports", type=Path, metavar="DIR", help="save each run's JSON report as DIR/<name>.json")
    args = parser.parse_args(argv)
    try:
        variants = load_variants()
        ci = ci_selection(variants, load_ci_names())
    except VariantError as exc:
        print(f"mutants/mutants.toml: {exc}", file=sys.stderr)
        return 2
    if args.only:
        unknown = sorted(set(args.only) - {v.name for v in variants})
        if unknown:
            parser.error(f"unknown variant(s): {', '.join(unknown)}; see --list")
        variants = [v for v in variants if v.name in args.only]
    elif args.ci:
        variants = ci
    if args.list:
        _list(variants, {v.name for v in ci})
        return 0
    signal.signal(signal.SIGTERM, _interrupt)  # a CI timeout: stop the child runs too
    started = time.monotonic()
    try:
        outcomes = run_all(
            variants, control=not args.no_control, jobs=args.jobs, timeout_s=args.timeout, keep=args.keep,
            reports=args.reports, report=lambda o: print(o.describe(), flush=True),
        )  # fmt: skip
    except KeyboardInterrupt:
        print("\ninterrupted: the runs in progress were stopped", file=sys.stderr)
        return 130
    print("\n" + summary(outcomes, time.monotonic() - started))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
