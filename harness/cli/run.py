"""``se-conformance run``: the suite against a target, in a pytest subprocess, with live progress.

pytest writes everything to ``OUT/pytest.log``; the report plugin appends progress events to a file the
command follows, and writes ``OUT/report.json``, from which the summary and the exit code come.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from harness.cli import common
from harness.cli.progress import ProgressView
from harness.cli.summary import render
from harness.errors import ConfigurationError
from harness.plugin import options as opt
from harness.profile import KNOWN_CAPABILITIES
from harness.report import document
from harness.report.progress import PROGRESS_ENV, ProgressReader
from harness.report.verdict import EXIT_NO_VERDICT, Verdict, no_report
from harness.report.waivers import all_waivers, check_not_expired
from harness.runstate import kill_group
from harness.shard import argument as shard_argument
from harness.targets import kinds

# Plugin options that `run` forwards; the command line spells them without "se-" (--se-url → --url).
FORWARDED = (
    opt.TARGET, opt.IMAGE, opt.COMMAND, opt.CWD, opt.PROFILE_FILE, opt.CAPABILITY, opt.TABLE_PREFIX, opt.URL,
    opt.DB_DSN, opt.STORAGE_PATH, opt.PRIVATE_KEY, *(opt.TOKEN_PREFIX + role for role in opt.ROLES), opt.PROFILE,
    opt.WAIVERS, opt.READ_TIMEOUT,
)  # fmt: skip
HELP = {
    opt.TARGET: "where the SE comes from: docker, local processes, an already deployed url, or auto "
                "(url when --url is given, else docker where an engine answers, else local; default)",
    opt.IMAGE: "docker target: the SE image to test (default: the reference image)",
    opt.COMMAND: "local target: command that starts the SE (default: python -m reference_service)",
    opt.CWD: "local target: working directory of --command",
    opt.PROFILE_FILE: "target profile TOML: env names, port, readiness path, capabilities, waivers; without one "
                      "the SE claims no optional capability (the reference run by the harness itself excepted)",
    opt.CAPABILITY: "declare an optional capability of the SE in addition to the profile's; repeatable "
                    f"(known: {', '.join(KNOWN_CAPABILITIES)})",
    opt.TABLE_PREFIX: "url target: the SE's DB_TABLE_PREFIX (docker/local choose one per worker)",
    opt.URL: "url target: base URL of a deployed SE (127.0.0.1/localhost only)",
    opt.DB_DSN: "url target: read-only PostgreSQL DSN of the SE's database (enables the db tests)",
    opt.STORAGE_PATH: "url target: the SE's storage path, readable here (enables the fs tests)",
    opt.PRIVATE_KEY: "url target: PEM private key matching the SE's JWT public key",
    opt.PROFILE: "which tests: core (HTTP only), db, fs, lifecycle, full (default)",
    opt.WAIVERS: "waiver file (TOML [[waivers]] requirement/reason/expires), added to the profile's",
    opt.READ_TIMEOUT: "seconds the SE may take to answer one request before that is its failure "
                      f"(a transport fault; default {opt.DEFAULT_READ_TIMEOUT_S:g})",
}  # fmt: skip
# Plugin flags (no value) that `run` forwards when given.
FLAGS = {
    opt.TRACE_SYSCALLS: "local target: let the durability test start an SE under strace and check that "
    "fsyncs, renames and the database COMMIT precede the answer (needs strace)"
}
CHOICES = {opt.TARGET: opt.TARGETS, opt.PROFILE: opt.PROFILES}
# Repeatable options (argparse "append") and the type that checks each value.
REPEATABLE: dict[str, Callable[[str], str]] = {opt.CAPABILITY: opt.capability_name}
TYPES: dict[str, Callable[[str], object]] = {opt.READ_TIMEOUT: opt.seconds}
PATH_OPTIONS = (opt.PROFILE_FILE, opt.WAIVERS, opt.PRIVATE_KEY, opt.STORAGE_PATH, opt.CWD)
DEFAULT_WORKERS = "2"  # = `-n auto` on the project's 2-core machines, explicit so bigger machines stay sane
SINGLE_SE_WORKERS = "0"  # one SE (url target): parallel workers would share its files and counters
LOG_TAIL_LINES = 30


def cli_flag(option: str) -> str:
    return "--" + option.removeprefix("--se-")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the conformance suite against a target",
                       description="Run the conformance suite against a target. Extra pytest arguments go "
                                   "after `--`.")  # fmt: skip
    for option in FORWARDED:
        role = option.removeprefix(opt.TOKEN_PREFIX) if option.startswith(opt.TOKEN_PREFIX) else None
        text = f"url target: a ready {role} token (instead of minting one)" if role else HELP[option]
        metavar = "NAME" if option in REPEATABLE else cli_flag(option)[2:].upper().replace("-", "_")
        p.add_argument(cli_flag(option), dest=opt.dest(option), choices=CHOICES.get(option), help=text,
                       metavar=None if option in CHOICES else metavar,
                       action="append" if option in REPEATABLE else "store",
                       type=REPEATABLE.get(option) or TYPES.get(option, str),
                       default=kinds.AUTO if option == opt.TARGET else None)  # fmt: skip
    for flag, text in FLAGS.items():
        p.add_argument(cli_flag(flag), dest=opt.dest(flag), action="store_true", help=text)
    p.add_argument("-n", "--workers", default=None,
                   help="parallel workers (pytest-xdist), each with its own SE and table prefix: a number, "
                        "0 for none, or auto (one per core); default 2, and 0 for the url target")  # fmt: skip
    p.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    p.add_argument("--out", default="out", type=Path,
                   help="output directory (default ./out): report.json, junit.xml, allure-results/, "
                        "pytest.log")  # fmt: skip
    p.add_argument("--strict", action="store_true", help="SHOULD and MAY failures fail the gate too (exit 1)")
    p.add_argument("--shard", type=shard_argument, metavar="K/N",
                   help="run only the K-th of N parts of the selected tests, balanced by recorded durations; "
                        "combine the parts' --out directories with `se-conformance merge`")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress, only the summary (CI logs)")
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output while it runs")
    p.add_argument("--suite", type=Path, default=common.SUITES_DIR, help=argparse.SUPPRESS)  # project tests
    p.set_defaults(handler=run)


@dataclass(frozen=True)
class OutputPaths:
    out: Path

    @property
    def report(self) -> Path:
        return self.out / "report.json"

    @property
    def junit(self) -> Path:
        return self.out / "junit.xml"

    @property
    def allure(self) -> Path:
        return self.out / "allure-results"

    @property
    def log(self) -> Path:
        return self.out / "pytest.log"

    def prepare(self) -> None:
        """Create OUT and remove the previous run's files (only ours: OUT may hold other things)."""
        self.out.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.allure, ignore_errors=True)
        self.allure.mkdir()
        for stale in (self.report, self.junit, self.log):
            stale.unlink(missing_ok=True)


def settings_of(args: argparse.Namespace) -> kinds.TargetSettings:
    return opt.settings_of(lambda name: getattr(args, name, None))


def implied_kind(args: argparse.Namespace) -> kinds.TargetKind | None:
    """The target kind the options name or imply, without probing the machine (``None``: docker or local)."""
    return kinds.implied_kind(args.se_target, settings_of(args))


def is_single_se(args: argparse.Namespace) -> bool:
    kind = implied_kind(args)
    return kind is not None and kind.single_se


def workers_arg(args: argparse.Namespace) -> str:
    value = (str(args.workers) if args.workers is not None
             else SINGLE_SE_WORKERS if is_single_se(args) else DEFAULT_WORKERS)  # fmt: skip
    if value in ("auto", "logical") or (value.isdigit() and int(value) >= 0):
        return value
    raise ConfigurationError(f"--workers {value!r} is not a worker count", expected="a number ≥ 0, or auto")


def pytest_command(args: argparse.Namespace, paths: OutputPaths) -> list[str]:
    """The pytest invocation for ``args`` (pure)."""
    cmd = [sys.executable, "-m", "pytest", str(args.suite.resolve()),
           "-c", str(common.REPO_ROOT / "pyproject.toml"), "--rootdir", str(common.REPO_ROOT),
           "-n", workers_arg(args),
           "--junitxml", str(paths.junit.resolve()), "-o", "junit_suite_name=se-conformance",
           "--alluredir", str(paths.allure.resolve()),
           opt.REPORT_JSON, str(paths.report.resolve())]  # fmt: skip
    for option in FORWARDED:
        value = getattr(args, opt.dest(option), None)
        if value is None:
            continue
        values = value if option in REPEATABLE else [value]
        for one in values:
            cmd += [option, str(Path(one).resolve()) if option in PATH_OPTIONS else str(one)]
    cmd += [flag for flag in FLAGS if getattr(args, opt.dest(flag), False)]
    if args.keyword:
        cmd += ["-k", args.keyword]
    if getattr(args, "shard", None) is not None:
        cmd += args.shard.pytest_args()
    return cmd + list(getattr(args, "pytest_args", []) or [])


def preflight(args: argparse.Namespace) -> None:
    """What can be checked in a second, before pytest: profile, capabilities, waivers, url target, suite path."""
    kind = implied_kind(args)
    if workers_arg(args) != "0" and kind is not None and kind.single_se:
        print(f"se-conformance: warning: the {kind.name} target is one SE shared by all workers; tests that count "
              "files may see each other's (use -n 0 for a clean verdict)", file=sys.stderr)  # fmt: skip
    if not args.suite.exists():
        raise ConfigurationError(f"the suite is not at {args.suite}", expected="the project's suites/ directory",
                                 hint="run se-conformance from a clone of the project (pip install -e .)")  # fmt: skip
    settings = settings_of(args)
    # kind None (auto without --url): pytest probes the machine later; the profile file, its waivers and the
    # declared capabilities are checked here all the same.
    profile = kinds.profile_for(kind, settings)
    check_not_expired(all_waivers(profile, args.se_waivers))
    if kind is not None:
        kind.preflight(settings, profile)


class PytestProcess:
    """pytest in its own session; Ctrl-C / SIGTERM are forwarded once (a second one kills it)."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path, *, echo: bool) -> None:
        self.cmd, self.env, self.log_path, self.echo = cmd, env, log, echo
        self.forwarded: set[int] = set()
        self.proc: subprocess.Popen[bytes] | None = None

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if signum in self.forwarded:
            print("\nse-conformance: stopping pytest hard; `se-conformance doctor --sweep` removes leftovers",
                  file=sys.stderr)  # fmt: skip
            kill_group(proc.pid)
            return
        self.forwarded.add(signum)
        print(f"\nse-conformance: {signal.Signals(signum).name}: stopping the run and cleaning up…", file=sys.stderr)
        proc.send_signal(signum)

    def _pump(self, source: IO[bytes], log: IO[bytes]) -> None:
        for line in iter(source.readline, b""):
            log.write(line)
            log.flush()
            sys.stdout.write(line.decode(errors="replace"))
            sys.stdout.flush()

    def run(self, on_poll: Callable[[], None]) -> int:
        previous = {s: signal.signal(s, self._signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    self.cmd, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True,
                    stdout=subprocess.PIPE if self.echo else log, stderr=subprocess.STDOUT,
                )  # fmt: skip
                pump = None
                if self.echo:
                    assert self.proc.stdout is not None
                    pump = threading.Thread(target=self._pump, args=(self.proc.stdout, log), daemon=True)
                    pump.start()
                while self.proc.poll() is None:
                    on_poll()
                    time.sleep(0.2)
                if pump is not None:
                    pump.join(timeout=10)
            on_poll()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self.proc.returncode


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").rstrip().splitlines()
    except OSError:
        return "(no pytest output)"
    return "\n".join(text[-lines:])


def run(args: argparse.Namespace) -> int:
    preflight(args)
    paths = OutputPaths(args.out)
    paths.prepare()
    cmd = pytest_command(args, paths)
    with tempfile.TemporaryDirectory(prefix="se-progress-") as tmp:
        progress_file = Path(tmp) / "progress.jsonl"
        env = {**os.environ, PROGRESS_ENV: str(progress_file)}
        reader = ProgressReader(progress_file)
        show = not args.quiet and not args.verbose
        view = ProgressView(sys.stdout, tty=sys.stdout.isatty()) if show else None
        if not args.quiet:
            print(f"se-conformance: running the suite; pytest output in {paths.log}", flush=True)

        def poll() -> None:
            events = reader.read()
            if view is not None:
                view.handle(events)

        status = PytestProcess(cmd, env, paths.log, echo=args.verbose).run(poll)
        if view is not None:
            view.close()
    return finish(args, paths, status)


def finish(args: argparse.Namespace, paths: OutputPaths, status: int) -> int:
    status = status if status >= 0 else 2  # killed by a signal: interrupted
    if not paths.report.exists():
        missing = no_report(status, f"no report was written ({paths.report})")
        print(f"\nNO VERDICT — {'; '.join(missing.reasons)}\n\nlast lines of {paths.log}:\n{log_tail(paths.log)}")
        return EXIT_NO_VERDICT
    doc = document.read(paths.report)
    verdict: Verdict = document.verdict_of(doc, strict=args.strict, pytest_status=status)
    print("\n" + render(doc, verdict, strict=args.strict))
    if verdict.exit_code == EXIT_NO_VERDICT and status not in (0, 1):
        print(f"\nlast lines of {paths.log}:\n{log_tail(paths.log)}")
    if not args.quiet:
        print(f"\nfiles: {paths.report}  {paths.junit}  {paths.allure}/  {paths.log}")
        print(f"HTML:  se-conformance report --html --results {paths.allure} --out {paths.out / 'allure-report'}")
    return verdict.exit_code
