"""Spot-check new or changed suite tests against every hand-written variant, in minutes.

The full measurement (``tests.mutation.runner``) runs the whole suite per variant: an hour and more. A
test added to the suite can only change the verdicts through the requirements *it* checks, so its
precision is seen by running just it (``-k EXPR``) against each variant's patched copy: a requirement it
fails that the variant does not declare is a **false alarm** of the new test (exit 1). Requirements it
fails that the variant declares are listed as caught. Recall is not measured here: the other tests do
not run. The full run stays the measurement of record (docs/mutation.md).

    python -m tests.mutation.spot_check -k "first_collection or logs_in" [--only NAME]... [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.mutation import report as reports
from tests.mutation.execution import RunError, forget_bytecode, run_suite
from tests.mutation.patching import prepare
from tests.mutation.variants import Variant, load_variants

TIMEOUT_S = 300.0


def check(variant: Variant, expression: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """``(variant, false alarms, caught)`` for the tests selected by ``expression``."""
    with tempfile.TemporaryDirectory(prefix="se-spot-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # the postgres system user traverses it to its state directory
        copy = prepare(work / "copy", variant.parts, variant.name)
        try:
            run = run_suite(copy, work, TIMEOUT_S, ("-k", expression, *variant.pytest_args))
        finally:
            forget_bytecode(copy)
        failed = reports.load(run.report).failed
    declared = set(variant.catches)
    return variant.name, tuple(r for r in failed if r not in declared), tuple(r for r in failed if r in declared)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation.spot_check", description=__doc__.split("\n")[0])
    parser.add_argument("-k", dest="expression", required=True, help="pytest -k expression selecting the tests")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="only this variant (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="variants at a time (default 2)")
    args = parser.parse_args(argv)
    variants = [v for v in load_variants() if not args.only or v.name in args.only]
    alarms = 0
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(check, v, args.expression) for v in variants]
        for future in futures:
            try:
                name, false_alarms, caught = future.result()
            except RunError as exc:
                print(f"ERROR {exc}", file=sys.stderr)
                alarms += 1
                continue
            if false_alarms:
                alarms += 1
                print(f"FALSE ALARM {name}: {', '.join(false_alarms)} (not declared)")
            elif caught:
                print(f"caught      {name}: {', '.join(caught)}")
    print(f"{len(variants)} variants, {alarms} with a false alarm or no verdict")
    return 1 if alarms else 0


if __name__ == "__main__":
    sys.exit(main())
