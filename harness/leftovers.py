"""``python -m harness.leftovers``: fail when a run left a process, container, network or volume behind.

CI calls it after the test stages. Only objects whose owning run has ended count; a run in progress is
not a leftover.
"""

from __future__ import annotations

import sys

from harness.runstate import live_processes, owner_alive, state_root


def local_leftovers() -> list[str]:
    found = []
    for path in sorted(state_root().iterdir()):
        if not path.is_dir():
            continue
        if owner_alive(path):
            continue
        found += [f"process {name} (pid {pid}) of ended run {path.name}" for name, pid in live_processes(path.name)]
    return found


def docker_leftovers() -> list[str]:
    try:
        from harness.docker_util import leftovers
    except ImportError:
        return []
    return list(leftovers())


def main() -> int:
    found = local_leftovers() + docker_leftovers()
    for line in found:
        print(f"leftover: {line}")
    if found:
        print(f"{len(found)} leftover(s): the harness did not clean up after itself", file=sys.stderr)
        return 1
    print("no leftovers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
