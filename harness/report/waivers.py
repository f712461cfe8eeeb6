"""Waiver files (``--se-waivers FILE``): known deviations kept apart from the target profile.

The format is the profile's ``[[waivers]]`` table, and so is the parser (``harness.profile``)::

    [[waivers]]
    requirement = "SE-FILE-040"
    reason = "ranges land in 1.3"
    expires = 2027-01-31

The run uses the profile's waivers and the file's together. An expired waiver, in either, stops the
run before any test (exit code 2): a deviation must be fixed or consciously renewed.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigurationError
from harness.profile import TargetProfile, Waiver, parse_waivers

WAIVER_FILE_KEYS = {"waivers"}


@dataclass(frozen=True)
class SourcedWaiver:
    waiver: Waiver
    source: str


def load_waiver_file(path: Path | str) -> tuple[Waiver, ...]:
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ConfigurationError(f"waiver file {file} does not exist", hint="check --waivers / --se-waivers") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"waiver file {file} is not valid TOML ({exc})",
                                 expected="[[waivers]] tables with requirement, reason, expires") from exc  # fmt: skip
    unknown = sorted(set(data) - WAIVER_FILE_KEYS)
    if unknown:
        raise ConfigurationError(
            f"waiver file {file}: unknown key(s) {', '.join(unknown)}",
            expected="only [[waivers]] tables with requirement, reason, expires",
            hint="see docs/cli.md, 'Waivers'",
        )
    return parse_waivers(data.get("waivers", []), str(file))


def all_waivers(profile: TargetProfile, waiver_file: Path | str | None) -> list[SourcedWaiver]:
    found = [SourcedWaiver(w, profile.source) for w in profile.waivers]
    if waiver_file:
        found += [SourcedWaiver(w, str(waiver_file)) for w in load_waiver_file(waiver_file)]
    return found


def check_not_expired(waivers: list[SourcedWaiver], today: dt.date | None = None) -> None:
    expired = [s for s in waivers if s.waiver.expired(today)]
    if expired:
        listed = "; ".join(
            f"{s.waiver.requirement} (expired {s.waiver.expires}: {s.waiver.reason}; in {s.source})" for s in expired
        )
        raise ConfigurationError(
            f"expired waiver(s): {listed}",
            expected="every waiver's expiry date today or later",
            hint="fix the SE, or renew the waiver with a new expiry date and reason",
        )


def active_waivers(
    profile: TargetProfile, waiver_file: Path | str | None, today: dt.date | None = None
) -> list[SourcedWaiver]:
    """The run's waivers, the profile's and the file's: the one place where expiry is decided."""
    waivers = all_waivers(profile, waiver_file)
    check_not_expired(waivers, today)
    return waivers
