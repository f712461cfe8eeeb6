"""``se-conformance``: the command line of the conformance suite (docs/cli.md).

Subcommands: ``run`` (``--fleet``, ``--shard``), ``merge``, ``serve``, ``doctor``, ``list``, ``images``, ``report``,
``k8s``.
Exit codes: 0 success / conformant, 1 not conformant (``run``, ``merge``), 2 configuration, preflight or harness
error.
"""

from __future__ import annotations

import argparse
import sys
import traceback

import harness
from harness.cli import common, doctor, fleet_run, images, k8s, listing, merge, report, run, serve
from harness.errors import HarnessError
from harness.report.verdict import EXIT_NO_VERDICT

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on bad usage, which is already our "configuration error" code; add a hint.
        self.print_usage(sys.stderr)
        self.exit(EXIT_NO_VERDICT, f"{self.prog}: error: {message}\n  hint: {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="se-conformance", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"se-conformance {harness.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for module in (run, merge, serve, doctor, listing, images, report, k8s):
        module.add_parser(sub)
    fleet_run.extend(sub.choices["run"])  # run --fleet FILE
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:  # everything after `--` goes to pytest (run)
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.pytest_args = unknown + extra
    try:
        return int(args.handler(args))
    except HarnessError as exc:
        common.show_error(exc)
        return EXIT_NO_VERDICT
    except KeyboardInterrupt:
        common.show_error("interrupted")
        return EXIT_NO_VERDICT
    except Exception:  # a crash of the command line is no verdict, never "not conformant" (exit 1)
        traceback.print_exc()
        common.show_error("internal error (the traceback above); please report it")
        return EXIT_NO_VERDICT
