"""``se-conformance merge DIR... [--out DIR] [--strict]``: the shards of a run as one run.

Each DIR is the ``--out`` of one ``se-conformance run --shard K/N``. The merged directory has what a
whole run leaves: ``report.json`` (requirement outcomes derived again from all shards' tests), one
``junit.xml`` and one ``allure-results/``. The summary and the exit code follow the rules of ``run``
(docs/verdicts.md): 0 conformant, 1 not conformant, 2 no verdict — also when a shard's report is
missing, unless the shards that ran prove a MUST failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.run import OutputPaths
from harness.cli.summary import render
from harness.errors import ConfigurationError
from harness.report import allure_merge, document, junit_merge
from harness.report.merge import ShardReport, merge


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("merge", help="combine the outputs of `run --shard K/N` into one report and verdict",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a shard's --out directory")
    p.add_argument("--out", type=Path, default=Path("out"),
                   help="where the merged report.json, junit.xml and allure-results/ go (default ./out)")  # fmt: skip
    p.add_argument("--strict", action="store_true", help="SHOULD and MAY failures fail the gate too (exit 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    p.set_defaults(handler=run)


def read_inputs(dirs: list[Path]) -> list[ShardReport]:
    inputs = []
    for folder in dirs:
        path = OutputPaths(folder).report
        inputs.append(ShardReport(str(folder), document.read(path) if path.is_file() else None))
    return inputs


def check_out(out: Path, dirs: list[Path]) -> None:
    resolved = out.resolve()
    for folder in dirs:
        if folder.resolve() == resolved:
            raise ConfigurationError(f"--out {out} is also an input directory",
                                     expected="a directory apart from the shards' directories",
                                     hint="e.g. --out out-merged")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    dirs: list[Path] = list(args.dirs)
    check_out(args.out, dirs)
    inputs = read_inputs(dirs)
    merged = merge(inputs, args=["se-conformance", "merge", *map(str, dirs)])
    paths = OutputPaths(args.out)
    paths.prepare()
    document.write(merged, paths.report)
    junits = [OutputPaths(d).junit for d in dirs if OutputPaths(d).junit.is_file()]
    cases = junit_merge.merge(junits, paths.junit) if junits else 0
    files = allure_merge.merge([OutputPaths(d).allure for d in dirs], paths.allure)
    verdict = document.verdict_of(merged, strict=args.strict)
    if not args.quiet:
        present = sum(1 for i in inputs if i.document is not None)
        print(f"se-conformance: merged {present} of {len(inputs)} report(s), {cases} JUnit test case(s) from "
              f"{len(junits)} file(s), {files} Allure file(s)")  # fmt: skip
    print(render(merged, verdict, strict=args.strict))
    if not args.quiet:
        print(f"\nfiles: {paths.report}  {paths.junit}  {paths.allure}/")
    sys.stdout.flush()
    return verdict.exit_code
