"""``se-conformance doctor``: what this machine has for each target kind, and the command that fixes each gap.

Exit 0 when at least one target kind can run (docker or local; the url target when ``--url`` is given
and answers), else 2. ``--sweep`` first removes what killed runs left behind (processes, state
directories, labelled containers/networks/volumes whose creator is dead).
"""

from __future__ import annotations

import argparse
import os
import platform
import pwd
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from harness.cli import common
from harness.errors import HarnessError
from harness.plugin.infra import docker_answers
from harness.report import allure
from harness.runstate import sweep_local


@dataclass
class Check:
    name: str
    ok: bool | None  # None: optional and absent / not applicable
    detail: str = ""
    fix: str = ""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check what this machine has (Docker, images, PostgreSQL, browser, Allure)",
                       description=__doc__)  # fmt: skip
    p.add_argument("--url", dest="se_url", help="also check that a deployed SE answers at this URL")
    p.add_argument("--profile-file", dest="se_profile_file", help="target profile (readiness path for --url)")
    p.add_argument("--sweep", action="store_true", help="remove leftovers of killed runs first")
    p.set_defaults(handler=run)


def _guard(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except HarnessError as exc:
        return Check(name, False, exc.what, exc.hint or exc.expected or "")
    except Exception as exc:  # a probe must never crash the doctor
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("Python ≥ 3.11", ok, f"{platform.python_version()} ({sys.executable})",
                 "" if ok else "use Python 3.11+ (scripts/setup makes .venv)")  # fmt: skip


def check_postgres() -> Check:
    from harness.postgres.local import find_pg_bin

    found = find_pg_bin()
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return Check("PostgreSQL server binaries", False, f"{found}, but no 'postgres' user to run them as root",
                         "apt-get install -y postgresql")  # fmt: skip
    return Check("PostgreSQL server binaries", True, str(found))


def check_reference() -> Check:
    import importlib.util

    ok = importlib.util.find_spec("reference_service") is not None
    return Check("reference SE (python -m reference_service)", ok, "importable" if ok else "not importable",
                 "" if ok else "pip install -e . in a clone of the project")  # fmt: skip


def check_docker() -> Check:
    from harness.docker_util import ENGINE_HINT

    ok = docker_answers()
    return Check("Docker engine", ok, "answers" if ok else "no engine answers", "" if ok else ENGINE_HINT)


def expected_images() -> dict[str, str]:
    """The tags the docker target would use now (the images module's own tag functions)."""
    from harness.images import BASE_IMAGE_ENV, POSTGRES_IMAGE_ENV
    from harness.images.postgres import postgres_tag
    from harness.images.rootfs import PYTHON_BASE
    from harness.images.se import pinned_closure, runtime_requirements, se_tag

    base = os.environ.get(BASE_IMAGE_ENV) or PYTHON_BASE.tag
    return {
        "python base": base,
        "PostgreSQL": os.environ.get(POSTGRES_IMAGE_ENV) or postgres_tag(),
        "reference SE": se_tag(base, pinned_closure(runtime_requirements())),
    }


def check_images() -> list[Check]:
    from harness.docker_util import image_exists

    checks = []
    for name, tag in expected_images().items():
        ok = image_exists(tag)
        checks.append(Check(f"image: {name}", ok, tag, "" if ok else "se-conformance images   (offline build, ~2 min)"))
    return checks


def check_tool(name: str, command: str, fix: str) -> Check:
    found = shutil.which(command)
    return Check(name, True if found else None, found or "not found", "" if found else fix)


def check_allure() -> Check:
    found = allure.find_allure()
    return Check("Allure 3 (se-conformance report --html)", True if found else None, found or "not installed",
                 "" if found else allure.INSTALL_COMMAND)  # fmt: skip


def check_url(url: str, profile_file: str | None) -> Check:
    from harness.profile import load_profile
    from harness.targets.url import UrlTarget

    profile = load_profile(profile_file)
    UrlTarget(url=url, profile=profile, prefix=None, dsn=None, storage_path=None, ready_deadline_s=5.0)
    return Check(f"SE at {url}", True, f"{profile.ready_path} answers 200")


def sweep() -> list[str]:
    removed = sweep_local()
    if docker_answers():
        from harness.docker_util import sweep as docker_sweep

        removed += docker_sweep()
    return removed


def run(args: argparse.Namespace) -> int:
    if args.sweep:
        removed = sweep()
        print("sweep: " + ("nothing left behind" if not removed else f"removed {len(removed)} item(s)"))
        for item in removed:
            print(f"  {item}")
    checks = [_guard("Python", check_python), _guard("reference SE", check_reference),
              _guard("PostgreSQL server binaries", check_postgres), _guard("Docker engine", check_docker)]  # fmt: skip
    docker_ok = bool(checks[-1].ok)
    if docker_ok:
        try:
            checks += check_images()
        except Exception as exc:
            checks.append(Check("images", False, f"could not determine the tags ({type(exc).__name__}: {exc})"))
    checks += [
        check_tool("debootstrap (offline image builds)", "debootstrap", "apt-get install -y debootstrap"),
        check_tool("chromium (to look at the HTML report)", "chromium", "apt-get install -y chromium"),
        check_tool("node (for Allure 3)", "node", "apt-get install -y nodejs npm"),
        _guard("Allure", check_allure),
    ]
    if args.se_url:
        checks.append(_guard(f"SE at {args.se_url}", lambda: check_url(args.se_url, args.se_profile_file)))
    for check in checks:
        line = f"  {common.mark(check.ok)} {check.name}: {check.detail}"
        print(line + (f"\n      fix: {check.fix}" if check.fix and not check.ok else ""))
    by_name = {c.name: c.ok for c in checks}
    local_ok = all(by_name.get(n) for n in ("reference SE (python -m reference_service)", "PostgreSQL server binaries"))
    images_ok = docker_ok and all(c.ok for c in checks if c.name.startswith("image"))
    url_ok = bool(args.se_url) and all(c.ok for c in checks if c.name.startswith("SE at"))
    print(f"\nlocal target: {'ready' if local_ok else 'NOT ready'}   "
          f"docker target: {'ready' if images_ok else 'NOT ready'}"
          + (f"   url target: {'ready' if url_ok else 'NOT ready'}" if args.se_url else ""))  # fmt: skip
    if not args.sweep:
        print("leftovers of killed runs: se-conformance doctor --sweep removes them")
    ready = url_ok if args.se_url else (local_ok or images_ok)
    return 0 if ready else 2
