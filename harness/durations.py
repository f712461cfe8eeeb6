"""The recorded test durations that ``run --shard`` balances by (``suites/.test_durations``).

``python -m harness.durations`` runs the whole suite (profile full, local target, 2 workers) with
pytest-split's ``--store-durations --clean-durations`` and rewrites the file: every suite test once,
no test that is gone. Run it after adding, removing or renaming suite tests, and commit the file;
``tests/cli/test_shards.py`` fails while the file and the suite disagree. Durations are per test
(setup + call + teardown) as the local target gives them; the docker target keeps the same proportions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.shard import DURATIONS_PATH

REPO_ROOT = DURATIONS_PATH.parents[1]
COMMAND = "python -m harness.durations"


@dataclass(frozen=True)
class Drift:
    """How the durations file and the suite disagree."""

    missing: list[str]  # suite tests without a duration (pytest-split gives them the average)
    stale: list[str]  # durations of tests the suite no longer has

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale


def load(path: Path = DURATIONS_PATH) -> dict[str, float]:
    """The durations file as a dict (nodeid → seconds); ``{}`` when there is none."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {str(k): float(v) for k, v in dict(data).items()}


def drift(durations: dict[str, float], nodeids: Iterable[str]) -> Drift:
    wanted = set(nodeids)
    return Drift(missing=sorted(wanted - set(durations)), stale=sorted(set(durations) - wanted))


def record_command(path: Path = DURATIONS_PATH, *, target: str = "local", workers: str = "2") -> list[str]:
    return [
        sys.executable, "-m", "pytest", str(REPO_ROOT / "suites"), "-c", str(REPO_ROOT / "pyproject.toml"),
        "--rootdir", str(REPO_ROOT), "--se-target", target, "-n", workers, "-q", "-p", "no:randomly",
        "--store-durations", "--clean-durations", "--durations-path", str(path),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--target", default="local", choices=("local", "docker"))
    parser.add_argument("-n", "--workers", default="2")
    parser.add_argument("--path", type=Path, default=DURATIONS_PATH)
    args = parser.parse_args(argv)
    done = subprocess.run(record_command(args.path, target=args.target, workers=args.workers), cwd=REPO_ROOT,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        # A failed run still records durations, but a broken suite is no baseline to balance by.
        print(f"{COMMAND}: the suite exited {done.returncode}; fix it and record again ({args.path} was "
              "rewritten anyway: do not commit it)", file=sys.stderr)  # fmt: skip
        return 2
    print(f"{COMMAND}: {len(load(args.path))} durations in {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
