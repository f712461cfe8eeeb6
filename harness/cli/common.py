"""What the subcommands share: paths of the project and how an error is shown."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.plugin import SUITES_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
__all__ = ["REPO_ROOT", "SUITES_DIR", "show_error"]


def show_error(exc: HarnessError | str) -> None:
    print(f"se-conformance: error: {exc}", file=sys.stderr)


def mark(ok: bool | None) -> str:
    """✔ / ✘ / - for doctor-style listings (plain ASCII when the terminal cannot encode them)."""
    symbol = {True: "✔", False: "✘", None: "-"}[ok]
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        symbol.encode(encoding)
    except UnicodeEncodeError:
        symbol = {True: "ok", False: "NO", None: "--"}[ok]
    return symbol
