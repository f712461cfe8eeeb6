"""``se-conformance list``: requirements, and tests per area and per profile, without running anything.

Collection runs in a pytest subprocess with the se-conformance plugin disabled (``--collect-only``),
so no target, database or container is started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.cli import common
from harness.errors import HarnessError
from harness.plugin.selection import PROFILE_FACILITIES
from harness.report.document import UNKNOWN_AREA, load_catalogue


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="list requirements and tests per area and profile (runs nothing)",
                       description=__doc__)  # fmt: skip
    p.add_argument("--requirements", action="store_true", help="every requirement with its level and tests")
    p.add_argument("--tests", action="store_true", help="every test with its requirements and needs")
    p.add_argument("--profile", choices=tuple(PROFILE_FACILITIES), help="only tests this profile runs")
    p.add_argument("--json", action="store_true", help="everything as JSON")
    p.add_argument("--suite", type=Path, default=common.SUITES_DIR, help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def collect(suite: Path) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="se-collect-") as tmp:
        out = Path(tmp) / "items.json"
        cmd = [sys.executable, "-m", "pytest", str(suite.resolve()), "--collect-only", "-q",
               "-c", str(common.REPO_ROOT / "pyproject.toml"), "--rootdir", str(common.REPO_ROOT),
               "-p", "no:se_conformance", "-p", "no:xdist", "-p", "harness.cli.collect_plugin"]  # fmt: skip
        from harness.cli.collect_plugin import COLLECT_ENV

        done = subprocess.run(cmd, env={**os.environ, COLLECT_ENV: str(out)}, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip
        if not out.exists():
            raise HarnessError("collecting the suite failed", expected="pytest --collect-only to succeed",
                               hint="\n".join((done.stdout + done.stderr).splitlines()[-25:]))  # fmt: skip
        return list(json.loads(out.read_text()))


def in_profile(item: dict[str, Any], profile: str) -> bool:
    return set(item["needs"]) <= PROFILE_FACILITIES[profile]


def summarise(items: list[dict[str, Any]], reqs: dict[str, Any]) -> dict[str, Any]:
    """Per area: requirements by level, how many have tests, tests per profile (pure)."""
    areas: dict[str, dict[str, Any]] = {}
    for req in reqs.values():
        area = areas.setdefault(req.area, {"requirements": 0, "MUST": 0, "SHOULD": 0, "MAY": 0, "tested": 0,
                                           "tests": dict.fromkeys(PROFILE_FACILITIES, 0)})  # fmt: skip
        area["requirements"] += 1
        area[req.level] += 1
    tested = {r for item in items for r in item["requirements"]}
    for req_id in tested:
        if req_id in reqs:
            areas[reqs[req_id].area]["tested"] += 1
    for item in items:
        first = next((reqs[r] for r in item["requirements"] if r in reqs), None)
        name = first.area if first else UNKNOWN_AREA
        area = areas.setdefault(name, {"requirements": 0, "MUST": 0, "SHOULD": 0, "MAY": 0, "tested": 0,
                                       "tests": dict.fromkeys(PROFILE_FACILITIES, 0)})  # fmt: skip
        for profile in PROFILE_FACILITIES:
            area["tests"][profile] += in_profile(item, profile)
    return dict(sorted(areas.items()))


def render(items: list[dict[str, Any]], reqs: dict[str, Any], args: argparse.Namespace) -> str:
    areas = summarise(items, reqs)
    width = max([len("area"), *(len(a) for a in areas)])
    profiles = list(PROFILE_FACILITIES)
    per_profile = " ".join(f"{p:>9}" for p in profiles)
    lines = [f"{len(reqs)} requirements in the catalogue, {len(items)} tests collected", "",
             " " * width + "  requirements" + " " * 24 + "  tests per profile",
             "area".ljust(width) + "   all  MUST SHOULD  MAY tested  " + per_profile]  # fmt: skip
    for name, area in areas.items():
        counts = " ".join(f"{area['tests'][p]:>9}" for p in profiles)
        lines.append(f"{name.ljust(width)}  {area['requirements']:>4}  {area['MUST']:>4} {area['SHOULD']:>6} "
                     f"{area['MAY']:>4} {area['tested']:>6}  {counts}")  # fmt: skip
    tests_of: dict[str, list[str]] = {}
    for item in items:
        for req in item["requirements"]:
            tests_of.setdefault(req, []).append(item["nodeid"])
    if args.requirements:
        lines += ["", "requirements:"]
        for req in reqs.values():
            lines.append(f"  {req.id}  {req.level:<6} {req.area:<10} {len(tests_of.get(req.id, [])):>3} test(s)  "
                         f"{req.title}")  # fmt: skip
    if args.tests:
        lines += ["", "tests:"]
        for item in items:
            needs = f"  needs {','.join(item['needs'])}" if item["needs"] else ""
            caps = f"  capability {','.join(item['capabilities'])}" if item["capabilities"] else ""
            lines.append(f"  {item['nodeid']}  [{' '.join(item['requirements']) or 'no req!'}]{needs}{caps}")
    untested = [r for r in reqs if r not in tests_of]
    if untested:
        lines += ["", f"requirements without a test ({len(untested)}): {' '.join(untested)}"]
    unknown = sorted({r for item in items for r in item["requirements"] if r not in reqs})
    if unknown:
        lines += ["", f"tests name requirements missing from the catalogue: {' '.join(unknown)}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    reqs, error = load_catalogue()
    if error:
        common.show_error(f"the requirement catalogue could not be read ({error}); listing tests only")
    items = collect(args.suite)
    if args.profile:
        items = [i for i in items if in_profile(i, args.profile)]
    if args.json:
        print(json.dumps({"requirements": [vars(r) for r in reqs.values()], "tests": items,
                          "areas": summarise(items, reqs)}, indent=2))  # fmt: skip
    else:
        print(render(items, reqs, args))
    return 0
