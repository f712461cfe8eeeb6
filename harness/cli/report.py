"""``se-conformance report``: the QA views of a finished run.

``report --html`` renders the Allure results offline into one self-contained ``index.html`` (Allure 3
from the project's ``.cache/allure``; ``--install`` puts it there with npm). Without ``--html`` it
prints the summary of ``report.json`` again (``--strict`` as in ``run``) and exits with the run's code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.summary import render
from harness.errors import ConfigurationError
from harness.report import allure, document


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="render the Allure HTML offline, or print a run's summary again",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--html", action="store_true", help="render the Allure HTML report")
    p.add_argument("--results", type=Path, default=Path("out/allure-results"),
                   help="Allure results directory (default out/allure-results)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None,
                   help="HTML output directory (default: allure-report/ next to the results)")  # fmt: skip
    p.add_argument("--install", action="store_true", help="install Allure 3 into .cache/allure first if missing")
    p.add_argument("--json", type=Path, default=Path("out/report.json"),
                   help="without --html: the report.json to summarise (default out/report.json)")  # fmt: skip
    p.add_argument("--strict", action="store_true", help="without --html: SHOULD/MAY failures gate too")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.html:
        out = args.out or args.results.parent / "allure-report"
        index = allure.render_html(args.results, out, install=args.install)
        print(f"Allure report: {index}\n  open it in a browser (file:// works; it is one self-contained file)")
        return 0
    if not args.json.exists():
        raise ConfigurationError(f"no report at {args.json}", expected="report.json written by se-conformance run",
                                 hint="pass --json PATH, or --html to render the Allure results")  # fmt: skip
    doc = document.read(args.json)
    verdict = document.verdict_of(doc, strict=args.strict)
    print(render(doc, verdict, strict=args.strict))
    return verdict.exit_code
