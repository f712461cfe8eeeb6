"""Capabilities are declared, never assumed: which profile a run uses, and what ``--se-capability`` adds.

The decision is ``harness.targets.kinds.profile_for``: the profile file; else the reference's own profile
when the harness runs the reference itself; else "none" (no optional capability). ``--se-capability``
(``run --capability``) declares more; an unknown name is a usage error that lists the known ones.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from harness.cli import build_parser, serve
from harness.cli.run import OutputPaths, pytest_command
from harness.errors import ConfigurationError
from harness.plugin import infra
from harness.plugin import options as opt
from harness.profile import KNOWN_CAPABILITIES, NO_PROFILE, TargetProfile, parse_profile
from harness.targets import kinds
from harness.targets.base import SEHandle
from harness.targets.kinds import KINDS, TargetSettings, profile_for
from harness.tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_CAPABILITIES = frozenset({"range", "etag"})
PY = sys.executable


def test_no_profile_claims_no_capability() -> None:
    assert NO_PROFILE.name == "none"
    assert NO_PROFILE.capabilities == frozenset()
    assert TargetProfile() == NO_PROFILE, "a profile nobody wrote claims nothing"


@pytest.mark.parametrize(
    ("kind", "settings", "name"),
    [
        (kinds.URL, TargetSettings(url="http://127.0.0.1:1"), "none"),  # a deployed SE: never assumed
        (kinds.LOCAL, TargetSettings(command="./my-se --serve"), "none"),
        (kinds.DOCKER, TargetSettings(image="registry.example/my-se:1.2"), "none"),
        (kinds.LOCAL, TargetSettings(), "reference"),  # the default command: python -m reference_service
        (kinds.LOCAL, TargetSettings(command=f"{PY} -m reference_service"), "reference"),  # a copy of it
        (kinds.LOCAL, TargetSettings(command="python3 -m reference_service --other"), "none"),
        (kinds.DOCKER, TargetSettings(), "reference"),  # the reference image the harness builds
    ],
)
def test_the_reference_profile_only_for_the_reference(kind: str, settings: TargetSettings, name: str) -> None:
    profile = profile_for(KINDS[kind], settings)
    assert profile.name == name
    assert profile.capabilities == (REFERENCE_CAPABILITIES if name == "reference" else frozenset())


def test_a_profile_file_wins_over_the_reference_default(tmp_path: Path) -> None:
    file = tmp_path / "mine.toml"
    file.write_text('name = "mine"\ncapabilities = ["etag"]\n')
    profile = profile_for(KINDS[kinds.LOCAL], TargetSettings(profile_file=str(file)))
    assert (profile.name, profile.capabilities) == ("mine", {"etag"})


def test_declared_capabilities_add_to_the_profile(tmp_path: Path) -> None:
    url = TargetSettings(url="http://127.0.0.1:1", capabilities=("range",))
    assert profile_for(KINDS[kinds.URL], url).capabilities == {"range"}
    assert profile_for(KINDS[kinds.URL], url).name == "none"
    file = tmp_path / "mine.toml"
    file.write_text('name = "mine"\ncapabilities = ["etag"]\n')
    both = TargetSettings(profile_file=str(file), capabilities=("range", "range"))
    assert profile_for(KINDS[kinds.URL], both).capabilities == {"range", "etag"}


def test_an_unknown_capability_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown capability 'teleport'(.|\n)*any of range, etag"):
        profile_for(KINDS[kinds.URL], TargetSettings(url="http://127.0.0.1:1", capabilities=("teleport",)))
    with pytest.raises(argparse.ArgumentTypeError, match="range, etag"):
        opt.capability_name("Range")
    assert opt.capability_name("etag") == "etag"


def test_a_profile_file_lists_its_capabilities_as_an_array() -> None:
    with pytest.raises(ConfigurationError, match="'capabilities' is not an array"):
        parse_profile({"capabilities": "range"}, "mine.toml")
    with pytest.raises(ConfigurationError, match=r"unknown capability 'teleport' \(target profile mine.toml\)"):
        parse_profile({"capabilities": ["teleport"]}, "mine.toml")


def test_an_unknown_kind_is_never_assumed_to_be_the_reference() -> None:
    assert profile_for(None, TargetSettings()).name == "none"


class FakeConfig:
    """What ``infra.effective_profile`` reads of a ``pytest.Config``."""

    def __init__(self, options: dict[str, Any], workerinput: dict[str, Any] | None = None) -> None:
        self.options = options
        self.stash = pytest.Stash()
        if workerinput is not None:
            self.workerinput = workerinput

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def test_the_plugin_decides_once_and_workers_follow_the_controller() -> None:
    controller = FakeConfig({opt.dest(opt.TARGET): "local", opt.dest(opt.CAPABILITY): ["range"],
                             opt.dest(opt.COMMAND): "./my-se"})  # fmt: skip
    profile = infra.effective_profile(cast(pytest.Config, controller))
    assert (profile.name, profile.capabilities) == ("none", {"range"})
    assert infra.profile_of(cast(pytest.Config, controller)) is profile, "decided once per process"
    # A worker asked for auto: it takes the kind the controller resolved, never probes again.
    worker = FakeConfig({opt.dest(opt.TARGET): "auto"}, workerinput={infra.SHARED_KEY: {"kind": "docker"}})
    assert infra.resolve_kind(cast(pytest.Config, worker)) is KINDS[kinds.DOCKER]
    assert infra.effective_profile(cast(pytest.Config, worker)).name == "reference"


def test_run_forwards_each_capability(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run", "--target", "local", "--capability", "range", "--capability", "etag"])
    args.pytest_args = []
    cmd = pytest_command(args, OutputPaths(tmp_path))
    assert [b for a, b in itertools.pairwise(cmd) if a == opt.CAPABILITY] == ["range", "etag"]
    assert "--capability" not in cmd


def test_unknown_capability_is_a_usage_error_of_pytest_and_of_run(tmp_path: Path) -> None:
    pytest_run = subprocess.run(
        [PY, "-m", "pytest", "suites", "--se-target", "local", opt.CAPABILITY, "teleport", "--co", "-q",
         "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert pytest_run.returncode == pytest.ExitCode.USAGE_ERROR, pytest_run.stdout + pytest_run.stderr
    assert "unknown capability 'teleport'" in pytest_run.stderr
    assert ", ".join(KNOWN_CAPABILITIES) in pytest_run.stderr
    cli = subprocess.run([PY, "-m", "harness.cli", "run", "--capability", "teleport", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "unknown capability 'teleport'" in cli.stderr
    assert ", ".join(KNOWN_CAPABILITIES) in cli.stderr


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ((), "reference"),
        (("--target", "docker"), "reference"),
        (("--command", "./my-se --serve"), "none"),
        (("--target", "docker", "--image", "my-se:1"), "none"),
    ],
)
def test_serve_runs_the_reference_under_its_own_profile(tmp_path: Path, argv: tuple[str, ...], name: str) -> None:
    args = build_parser().parse_args(["serve", *argv])
    deployment = serve.deployment_for(args, "r1", TokenFactory(), tmp_path / "jwt-public.pem")
    assert deployment.kind == args.target
    assert deployment.profile.name == name


def test_the_line_serve_prints_declares_the_served_capabilities() -> None:
    se = SEHandle(name="s", base_url="http://127.0.0.1:1", prefix="se", mode="edit", element_id="se-se")
    line = serve._suite_line(se, "postgresql://se:se@127.0.0.1:2/se", None, Path("/k.pem"), REFERENCE_CAPABILITIES)
    assert line.endswith(" --private-key /k.pem --capability etag --capability range")
    assert "--capability" not in serve._suite_line(se, "postgresql://x", None, Path("/k.pem"), frozenset())


RANGE_AND_ETAG = "SE-FILE-023,SE-FILE-024,SE-FILE-026"


def suite(*extra: str) -> subprocess.CompletedProcess[str]:
    """The range/etag tests against the reference started by a command the harness does not recognise."""
    cmd = [PY, "-m", "pytest", "suites", "--se-target", "local", opt.COMMAND, f"{PY} -m reference_service.__main__",
           "--se-req", RANGE_AND_ETAG, "-n", "0", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:randomly",
           *extra]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_a_foreign_se_without_a_profile_is_unsupported_until_it_declares() -> None:
    undeclared = suite()
    assert undeclared.returncode == 0, undeclared.stdout[-3000:] + undeclared.stderr[-2000:]
    assert "capability range not declared" in undeclared.stdout
    assert "capability etag not declared" in undeclared.stdout
    assert " passed" not in undeclared.stdout.splitlines()[-1]
    declared = suite(opt.CAPABILITY, "range", opt.CAPABILITY, "etag")
    assert declared.returncode == 0, declared.stdout[-3000:] + declared.stderr[-2000:]
    assert "not declared" not in declared.stdout
    assert " passed" in declared.stdout.splitlines()[-1]
