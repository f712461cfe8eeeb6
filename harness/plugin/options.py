"""Command-line options of the pytest plugin, names as constants (like pytest-xdist / hypothesis).

The CLI (`se-conformance run`) builds the same options, so both spell them through these constants.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pytest

from harness.client import DEFAULT_READ_TIMEOUT_S
from harness.errors import ConfigurationError
from harness.profile import KNOWN_CAPABILITIES, check_capabilities
from harness.targets.kinds import CAPABILITY_SOURCE, CHOICES, TargetSettings

GROUP = "se-conformance"

TARGET = "--se-target"
IMAGE = "--se-image"
COMMAND = "--se-command"
CWD = "--se-cwd"
PROFILE_FILE = "--se-profile-file"
CAPABILITY = CAPABILITY_SOURCE  # "--se-capability", repeatable
TABLE_PREFIX = "--se-table-prefix"
URL = "--se-url"
DB_DSN = "--se-db-dsn"
STORAGE_PATH = "--se-storage-path"
PRIVATE_KEY = "--se-private-key"
TOKEN_PREFIX = "--se-token-"  # --se-token-user, --se-token-operator, --se-token-admin, --se-token-service
PROFILE = "--se-profile"
WAIVERS = "--se-waivers"
REPORT_JSON = "--se-report-json"
ONLY_REQ = "--se-req"
READ_TIMEOUT = "--se-read-timeout"
TRACE_SYSCALLS = "--se-trace-syscalls"  # local target: the syscalls facility (SEs under strace), opt-in
FLEET = "--se-fleet"  # the fleet-wide checks (suites/fleet) against a fleet file; no target is started

TARGETS = CHOICES  # auto and the kinds of harness.targets.kinds.KINDS
PROFILES = ("core", "db", "fs", "lifecycle", "full")
ROLES = ("user", "operator", "admin", "service")


def dest(option: str) -> str:
    return option.lstrip("-").replace("-", "_")


def capability_name(value: str) -> str:
    """Type of ``--se-capability`` (and ``run --capability``): a known capability, else a usage error."""
    try:
        check_capabilities([value], "declared on the command line")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def settings_of(get: Callable[[str], Any]) -> TargetSettings:
    """The target settings from parsed options; ``get(dest)`` reads one (pytest's config or argparse's args)."""
    return TargetSettings(
        image=get(dest(IMAGE)), command=get(dest(COMMAND)), cwd=get(dest(CWD)), url=get(dest(URL)),
        table_prefix=get(dest(TABLE_PREFIX)), db_dsn=get(dest(DB_DSN)), storage_path=get(dest(STORAGE_PATH)),
        profile_file=get(dest(PROFILE_FILE)), capabilities=tuple(get(dest(CAPABILITY)) or ()),
        trace_syscalls=bool(get(dest(TRACE_SYSCALLS))),
    )  # fmt: skip


def seconds(value: str) -> float:
    """Type of ``--se-read-timeout``: a positive number of seconds."""
    try:
        parsed = float(value)
    except ValueError:
        parsed = -1.0
    if not parsed > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return parsed


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "se-conformance: the storage-element target under test")
    group.addoption(TARGET, choices=TARGETS, default=None,
                    help="where the SE comes from: docker (default where a Docker engine answers), local "
                         "processes, or an already deployed url")  # fmt: skip
    group.addoption(IMAGE, default=None, help="docker target: SE image to test (default: the reference image)")
    group.addoption(COMMAND, default=None,
                    help="local target: command that starts the SE (default: python -m reference_service)")  # fmt: skip
    group.addoption(CWD, default=None, help="local target: working directory of --se-command")
    group.addoption(PROFILE_FILE, default=None,
                    help="target profile TOML (env names, capabilities, waivers); without one a target claims no "
                         "optional capability, except the reference run by the harness itself")  # fmt: skip
    group.addoption(CAPABILITY, action="append", default=None, metavar="NAME", type=capability_name,
                    help=f"declare an optional capability of the SE, in addition to the profile's; repeatable "
                         f"(known: {', '.join(KNOWN_CAPABILITIES)})")  # fmt: skip
    group.addoption(TABLE_PREFIX, default=None,
                    help="table prefix of the SE (url target); docker/local derive one per worker")  # fmt: skip
    group.addoption(URL, default=None, help="url target: base URL of a deployed SE (127.0.0.1 only)")
    group.addoption(DB_DSN, default=None, help="url target: read-only PostgreSQL DSN of the SE's database")
    group.addoption(STORAGE_PATH, default=None, help="url target: the SE's storage path, readable here")
    group.addoption(PRIVATE_KEY, default=None, help="url target: PEM private key the SE's public key matches")
    for role in ROLES:
        group.addoption(TOKEN_PREFIX + role, default=None, help=f"url target: a ready {role} token")
    group.addoption(PROFILE, choices=PROFILES, default="full",
                    help="which tests: core (HTTP only), db, fs, lifecycle, full (default)")  # fmt: skip
    group.addoption(WAIVERS, default=None, help="waiver file (TOML [[waivers]]) added to the profile's waivers")
    group.addoption(ONLY_REQ, default=None,
                    help="run only the tests of these requirement IDs (comma-separated), e.g. SE-FILE-001")  # fmt: skip
    group.addoption(TRACE_SYSCALLS, action="store_true", default=False,
                    help="local target: let the durability test start an SE under strace and check the order of "
                         "fsync, rename, COMMIT and the answer (the syscalls facility; needs strace; without it "
                         "that test is unsupported)")  # fmt: skip
    group.addoption(FLEET, default=None, metavar="FILE",
                    help="run the fleet-wide checks (suites/fleet) against the SEs of this fleet file; starts "
                         "no target (se-conformance run --fleet runs them and one url-target run per SE)")  # fmt: skip
    group.addoption(REPORT_JSON, default=None, help="write the JSON conformance report to this path")
    group.addoption(READ_TIMEOUT, type=seconds, default=DEFAULT_READ_TIMEOUT_S, metavar="SECONDS",
                    help="how long the SE may take to answer one request before that counts as its failure "
                         f"(a transport fault of the check); default {DEFAULT_READ_TIMEOUT_S:g}")  # fmt: skip
