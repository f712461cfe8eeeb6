"""Shards: the K-th of N parts of the selected suite tests, balanced by recorded durations.

The split itself is pytest-split's (``--splits N --group K``), with its ``least_duration`` algorithm and
the durations the project keeps in ``suites/.test_durations`` (``python -m harness.durations`` rewrites
it). Why it composes with the rest of the run:

* pytest-split's ``pytest_collection_modifyitems`` is ``trylast``: the plugin's profile and ``--se-req``
  deselection and pytest's ``-k`` run first, so the split divides what the run selected, not the suite;
* under xdist every worker collects the same items in the same order and runs the same split (the
  algorithm orders by duration, then name, then collection order: no randomness), so each worker of a
  shard sees the same part, and the controller hands it out as usual;
* the shards of one selection are disjoint and cover it: ``se-conformance merge`` checks that again
  from each report's recorded arguments (``shard_of_args``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DURATIONS_PATH = Path(__file__).resolve().parents[1] / "suites" / ".test_durations"
ALGORITHM = "least_duration"
SPLITS_OPTION = "--splits"
GROUP_OPTION = "--group"
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, order=True)
class Shard:
    """Part ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def pytest_args(self, durations: Path = DURATIONS_PATH) -> list[str]:
        """pytest-split's options for this shard."""
        return [
            SPLITS_OPTION, str(self.count), GROUP_OPTION, str(self.index),
            "--splitting-algorithm", ALGORITHM, "--durations-path", str(durations),
        ]  # fmt: skip


def parse(spec: str) -> Shard:
    """``"2/3"`` → ``Shard(2, 3)``; anything else is a ``ValueError`` that says what was expected."""
    match = _SPEC.match(spec)
    if match is None:
        raise ValueError(f"--shard {spec!r} is not K/N (expected e.g. 2/3: the second of three parts)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"--shard {spec!r}: K must be between 1 and N, and N at least 1 (e.g. 1/3, 2/3, 3/3)")
    return Shard(index, count)


def argument(spec: str) -> Shard:
    """argparse ``type=`` of ``run --shard``: a usage error (exit 2) with the expected form."""
    try:
        return parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _option_value(args: Sequence[str], option: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def shard_of_args(args: Sequence[str]) -> Shard | None:
    """The shard a pytest invocation ran (``report.json``'s ``run.args``), or ``None`` for a whole run."""
    splits, group = _option_value(args, SPLITS_OPTION), _option_value(args, GROUP_OPTION)
    if splits is None or group is None:
        return None
    try:
        return parse(f"{group}/{splits}")
    except ValueError:
        return None
