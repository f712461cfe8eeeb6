"""The test command of every mutant: the conformance suite against the (mutated) reference in the cwd.

cosmic-ray runs ``python bench/mutation_score.py judge`` in a worker's copy of the repository after it
has mutated ``reference_service/`` there. The judge runs the whole suite on the local target with the
runner of the hand-written variants (``tests.mutation.execution.run_suite``: ``--se-cwd`` on the copy,
a harness state directory of its own, leftovers swept, the JSON report), stopping once the verdict is
known (``stop_early``), and turns the report into one verdict:

==========  ====  ==========================================================================================
verdict     exit  when
==========  ====  ==========================================================================================
survived    0     pytest passed: no requirement failed, errored or was blocked (as the variants' control)
killed      1     a requirement failed — or the SE under test did not start (``TargetNotReady`` for an SE:
                  it crashed at import or start-up, or never became ready)
no-verdict  2     anything else: a harness error (PostgreSQL, a suite crash on an odd answer), a blocked
                  requirement (its checks never ran), pytest usage error, no report. ``run`` records it as
                  *incompetent*, never as killed
timeout     3     the suite did not finish within ``--timeout`` (stopped, its processes swept)
==========  ====  ==========================================================================================

cosmic-ray counts every non-zero exit as killed; the verdict line (``se-mutant-verdict: ...``) on stdout
is what ``run`` and ``report`` read.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sampled_mutation.paths import BENCH, PACKAGE, VERDICT_PREFIX
from sampled_mutation.procs import JUDGES, record
from sampled_mutation.stop_early import SE_NOT_READY
from tests.mutation import report as json_report
from tests.mutation.execution import RunError, forget_bytecode, run_suite
from tests.mutation.runner import no_verdict_reasons

SURVIVED, KILLED, NO_VERDICT, TIMEOUT = "survived", "killed", "no-verdict", "timeout"
EXIT = {SURVIVED: 0, KILLED: 1, NO_VERDICT: 2, TIMEOUT: 3}
# The syscalls facility too (strace, installed by scripts/setup): mutants that drop an fsync or reorder
# rename and COMMIT are caught only by SE-DUR-013's traced run, which is opt-in for the suite.
SUITE_ARGS = ("-p", "sampled_mutation.stop_early", "--se-trace-syscalls")
MESSAGE_CHARS = 600


@dataclass(frozen=True)
class Verdict:
    verdict: str
    why: str
    requirements: tuple[str, ...] = ()

    def lines(self, seconds: float) -> list[str]:
        return [
            f"{VERDICT_PREFIX}{self.verdict}",
            f"requirements: {' '.join(self.requirements) or '-'}",
            f"seconds: {seconds:.1f}",
            f"why: {' '.join(self.why.split())[:MESSAGE_CHARS]}",
        ]


def _first(report: json_report.Report, rids: tuple[str, ...]) -> str:
    for rid in rids:
        for test in report.evidence(rid):
            if test.outcome in (json_report.FAIL, json_report.ERROR):
                return f"{test.nodeid}: {test.message}"
    return ""


def decide(report: json_report.Report, returncode: int) -> Verdict:
    """The verdict from the suite's JSON report and pytest's exit status (0 or 1)."""
    if report.failed:
        return Verdict(KILLED, _first(report, report.failed), report.failed)
    errored = [t for rid in report.errored for t in report.evidence(rid) if t.outcome == json_report.ERROR]
    if errored and all(SE_NOT_READY in t.message for t in errored):
        return Verdict(KILLED, f"the SE does not start: {errored[0].message}", report.errored)
    problems = no_verdict_reasons(report)
    if report.errored:
        problems.append(f"first harness error: {_first(report, report.errored)}")
    if report.blocked:  # a preparation failed, or a test's checks never ran: no verdict either way
        problems.append(f"blocked: {', '.join(report.blocked)}")
    if problems or returncode != 0:
        return Verdict(NO_VERDICT, "; ".join(problems) or f"pytest exited {returncode}")
    return Verdict(SURVIVED, "the whole suite passed")


def exit_cause(output: str) -> str:
    """What pytest said last about a run whose report holds no verdict: its error lines, else its last lines.

    Such a run failed outside every test (a session fixture, a teardown, the plugin); the report cannot
    say what, so the reviewer needs pytest's own words.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "FAILED", "INTERNALERROR", "E "))]
    return " | ".join((errors or lines)[-3:]) or "no output"


def report_of_named(output: str, report: json_report.Report) -> str:
    """What the report says about the tests pytest's summary names FAILED or ERROR (a test that failed in
    pytest's eyes but counts for no requirement is a harness matter to find: say where it ended up)."""
    named = {line.split()[1] for line in output.splitlines() if line.startswith(("FAILED ", "ERROR ")) and " " in line}
    entries = {t.nodeid: (rid, t.outcome) for rid, r in report.requirements.items() for t in r.tests}
    entries.update({t.nodeid: ("unmapped", t.outcome) for t in report.unmapped})
    said = []
    for nodeid in sorted(named):
        found = [f"{rid} {outcome}" for node, (rid, outcome) in entries.items() if node == nodeid]
        said.append(f"{nodeid}: {', '.join(found) or 'not in the report'}")
    return "; ".join(said)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def judge(copy: Path, timeout_s: float, *, keep: bool = False) -> tuple[Verdict, float]:
    """Run the suite against ``copy/reference_service``; the verdict and the seconds it took."""
    copy.chmod(0o755)  # the harness's PostgreSQL runs as the postgres user below it
    (copy / JUDGES).mkdir(mode=0o755, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=copy / JUDGES))
    work.chmod(0o755)
    record(work / "judge.pid")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), os.environ.get("PYTHONPATH", "")) if p)
    forget_bytecode(copy / PACKAGE)  # never a stale bytecode of an earlier mutant of this copy
    started = time.monotonic()
    try:
        run = run_suite(copy, work, timeout_s, SUITE_ARGS)
        verdict = decide(json_report.load(run.report), run.returncode)
        if verdict.verdict == NO_VERDICT and verdict.why.startswith("pytest exited"):
            said = report_of_named(run.output, json_report.load(run.report))
            said = f" (report: {said})" if said else ""  # before pytest's words: the why is cut at MESSAGE_CHARS
            verdict = Verdict(NO_VERDICT, f"{verdict.why}{said}: {exit_cause(run.output)}")
    except RunError as exc:
        timed_out = time.monotonic() - started >= timeout_s
        verdict = Verdict(TIMEOUT if timed_out else NO_VERDICT, str(exc))
    except json_report.ReportError as exc:
        verdict = Verdict(NO_VERDICT, str(exc))
    except KeyboardInterrupt:
        verdict = Verdict(NO_VERDICT, "interrupted (the run was stopped)")
    finally:
        forget_bytecode(work)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return verdict, time.monotonic() - started


def main(timeout_s: float, keep: bool) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    verdict, seconds = judge(Path.cwd(), timeout_s, keep=keep)
    print("\n".join(verdict.lines(seconds)), flush=True)
    return EXIT[verdict.verdict]
