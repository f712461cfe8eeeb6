"""Target profiles: the reference profile loads; typos and bad waivers are refused with a clear message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness.errors import ConfigurationError
from harness.profile import load_profile, parse_profile


def test_reference_profile_declares_the_optional_capabilities() -> None:
    profile = load_profile(None)
    assert profile.name == "reference"
    assert profile.capabilities == {"range", "etag"}
    assert profile.command[1:] == ("-m", "reference_service")


def test_env_mapping_renames_contract_variables() -> None:
    profile = parse_profile({"env": {"DB_TABLE_PREFIX": "MY_PREFIX"}, "extra_env": {"X": "1"}}, "t.toml")
    assert profile.environment({"DB_TABLE_PREFIX": "p", "APP_MODE": "ro"}) == {
        "MY_PREFIX": "p", "APP_MODE": "ro", "X": "1",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"capabilites": ["range"]}, "unknown key"),
        ({"capabilities": ["teleport"]}, "unknown capability"),
        ({"env": {"DB_PREFIX": "X"}}, "unknown contract variable"),
        ({"command": "./se --serve"}, "is a string"),
        ({"waivers": [{"requirement": "SE-FILE-001", "reason": "r"}]}, "exactly"),
        ({"waivers": [{"requirement": "SE-FILE-001", "reason": "r", "expires": "soon"}]}, "not a date"),
    ],
)
def test_bad_profiles_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_profile(data, "bad.toml")


def test_waiver_expiry(tmp_path: Path) -> None:
    file = tmp_path / "p.toml"
    file.write_text('[[waivers]]\nrequirement = "SE-FILE-001"\nreason = "later"\nexpires = 2026-01-31\n')
    (waiver,) = load_profile(file).waivers
    assert not waiver.expired(dt.date(2026, 1, 31))
    assert waiver.expired(dt.date(2026, 2, 1))


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_profile(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_profile(broken)


def test_debug_knobs() -> None:
    assert load_profile(None).rebuild_delay_env == "SE_DEBUG_REBUILD_DELAY_S", "the reference offers it"
    assert parse_profile({}, "p.toml").rebuild_delay_env is None, "an SE need offer none"
    with pytest.raises(ConfigurationError, match=r"\[debug\] has unknown key\(s\) delay"):
        parse_profile({"debug": {"delay": "X"}}, "p.toml")
    with pytest.raises(ConfigurationError, match=r"\[debug\] is not a table"):
        parse_profile({"debug": "X"}, "p.toml")
