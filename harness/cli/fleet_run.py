"""``se-conformance run --fleet FILE``: every SE of a fleet verified at once, then the fleet summary.

One ``se-conformance run --target url -n 0`` per SE (its results in ``OUT/<name>/``) and, beside them,
the fleet-wide checks (``suites/fleet``, once per fleet, results in ``OUT/fleet/``); then
``OUT/fleet.json``, the SE-by-area table, and one exit code (``harness.fleet.results``: 1 > 2 > 0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
from harness.cli import run as run_cmd
from harness.errors import ConfigurationError
from harness.fleet import results, summary
from harness.fleet.children import FLEET_DIR, Child, Children, RunOptions, checks_command, se_command
from harness.fleet.spec import Fleet, load_fleet
from harness.plugin import options as opt
from harness.report import document
from harness.report.verdict import EXIT_NO_VERDICT

FLEET_JSON = "fleet.json"
DEFAULT_PROFILE = "core"  # a fleet is deployed: HTTP only and non-destructive unless --profile widens it
#: ``run`` options that describe one target: the fleet file describes every SE instead.
SINGLE_TARGET = (opt.TARGET, opt.IMAGE, opt.COMMAND, opt.CWD, opt.PROFILE_FILE, opt.CAPABILITY, opt.TABLE_PREFIX,
                 opt.URL, opt.DB_DSN, opt.STORAGE_PATH, opt.PRIVATE_KEY, opt.WAIVERS,
                 *(opt.TOKEN_PREFIX + role for role in opt.ROLES))  # fmt: skip


def extend(parser: argparse.ArgumentParser) -> None:
    """Add ``--fleet`` to ``run``'s parser; ``run --fleet`` goes to :func:`run_fleet`, plain ``run`` as before."""
    parser.add_argument("--fleet", type=Path, metavar="FILE",
                        help="verify every SE of this fleet file ([[se]] name, url, table_prefix, mode, …; "
                             "docs/fleet.md) in parallel, one run per SE, plus the fleet-wide checks; default "
                             f"--profile {DEFAULT_PROFILE}; results in OUT/<name>/ and OUT/{FLEET_JSON}")  # fmt: skip
    single: Callable[[argparse.Namespace], int] = parser.get_default("handler")

    def handler(args: argparse.Namespace) -> int:
        return run_fleet(args) if getattr(args, "fleet", None) is not None else single(args)

    parser.set_defaults(handler=handler)


def check_options(args: argparse.Namespace) -> None:
    given = [run_cmd.cli_flag(o) for o in SINGLE_TARGET
             if getattr(args, opt.dest(o), None) not in (None, run_cmd.kinds.AUTO)]  # fmt: skip
    if args.workers is not None:
        given.append("--workers")
    if getattr(args, "shard", None) is not None:
        given.append("--shard")
    if given:
        raise ConfigurationError(
            f"run --fleet takes its targets from the fleet file; {', '.join(given)} describe(s) one target",
            expected="the SE's url, prefix, db_dsn, storage_path, profile_file, capabilities and keys in its [[se]]",
            hint="drop those options (each SE's run has one worker bound to it)",
        )


def run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(profile=getattr(args, opt.dest(opt.PROFILE), None) or DEFAULT_PROFILE, strict=args.strict,
                      keyword=args.keyword, read_timeout=getattr(args, opt.dest(opt.READ_TIMEOUT), None),
                      pytest_args=tuple(getattr(args, "pytest_args", []) or []))  # fmt: skip


def prepare(out: Path, fleet: Fleet) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / FLEET_JSON).unlink(missing_ok=True)
    for name in [*fleet.names(), FLEET_DIR]:
        shutil.rmtree(out / name, ignore_errors=True)


def se_record(name: str, out: Path, code: int, duration_s: float, strict: bool) -> dict[str, Any]:
    """What fleet.json says about one SE, from its exit code and ``OUT/<name>/report.json``."""
    record: dict[str, Any] = {"name": name, "exit_code": code if code in (0, 1, 2) else EXIT_NO_VERDICT,
                              "duration_s": round(duration_s, 2), "out": str(out),
                              "report": None, "areas": {}}  # fmt: skip
    report = out / "report.json"
    if report.exists():
        doc = document.read(report)
        verdict = document.verdict_of(doc, strict=strict)
        by_id = {r["id"]: r for r in doc["requirements"]}
        failed = [c.id for c in [*verdict.failures, *verdict.warnings]]
        record.update(report=str(report), areas=doc["areas"], must_failures=[c.id for c in verdict.failures],
                      other_failures=[c.id for c in verdict.warnings], reasons=list(verdict.reasons),
                      titles={r: by_id[r]["title"] for r in failed if r in by_id},
                      levels={r: by_id[r]["level"] for r in failed if r in by_id},
                      version=doc["target"].get("version"))  # fmt: skip
    else:
        record["reasons"] = [f"no report was written; see {out / 'run.log'}"]
    return record


def build_document(fleet: Fleet, out: Path, options: RunOptions, ses: list[dict[str, Any]],
                   checks: list[results.FleetCheck], checks_status: int, started: float) -> dict[str, Any]:  # fmt: skip
    checks_code, reasons = results.checks_exit(checks, strict=options.strict, pytest_status=checks_status)
    for se in ses:
        se["fleet_outcome"] = results.outcome_for(checks, se["name"])
    return {
        "schema_version": 1,
        "suite_version": harness.__version__,
        "fleet_file": str(fleet.source),
        "profile": options.profile,
        "strict": options.strict,
        "started_at": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(),
        "duration_s": round(time.time() - started, 2),
        "exit_code": results.combine([*(s["exit_code"] for s in ses), checks_code]),
        "ses": ses,
        "fleet_checks": {
            "exit_code": checks_code,
            "reasons": reasons,
            "pytest_exit_status": checks_status,
            "out": str(out / FLEET_DIR),
            "checks": [c.to_dict() for c in checks],
        },
    }


def run_fleet(args: argparse.Namespace) -> int:
    check_options(args)
    fleet = load_fleet(args.fleet)
    options = run_options(args)
    out: Path = args.out
    prepare(out, fleet)
    children = [Child(e.name, se_command(e, out / e.name, options), out / e.name / "run.log") for e in fleet.entries]
    checks_dir = out / FLEET_DIR
    children.append(Child(FLEET_DIR, checks_command(fleet, checks_dir), checks_dir / "pytest.log"))
    started = time.time()
    if not args.quiet:
        print(f"se-conformance: verifying {len(fleet.entries)} SEs of {fleet.source} (profile {options.profile}), "
              f"one run each, and the fleet-wide checks; results in {out}/", flush=True)  # fmt: skip
    ses: dict[str, dict[str, Any]] = {}
    status = {FLEET_DIR: EXIT_NO_VERDICT}

    def ended(child: Child) -> None:
        code = child.code if child.code is not None else EXIT_NO_VERDICT
        if child.name == FLEET_DIR:
            status[FLEET_DIR] = code
        else:
            ses[child.name] = se_record(child.name, out / child.name, code, child.duration_s, options.strict)
        if not args.quiet:
            what = "fleet-wide checks" if child.name == FLEET_DIR else f"SE {child.name}"
            print(f"  {what}: exit {code} in {child.duration_s:.1f} s", flush=True)

    Children(children).run(ended)
    junit = checks_dir / "junit.xml"
    checks = results.read_checks(junit) if junit.exists() else []
    doc = build_document(fleet, out, options, [ses[n] for n in fleet.names()], checks, status[FLEET_DIR], started)
    document.write(doc, out / FLEET_JSON)
    print("\n" + summary.render(doc))
    if not args.quiet:
        print(f"\nfiles: {out / FLEET_JSON}  {out}/<SE>/report.json, junit.xml, allure-results/  "
              f"{checks_dir}/junit.xml")  # fmt: skip
    return int(doc["exit_code"])
