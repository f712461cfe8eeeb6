"""Which suite tests run (profiles) and which are reported unsupported (waivers: harness.plugin.reporting)."""

from __future__ import annotations

import pytest

from harness.targets.base import FACILITY_DB, FACILITY_FS, FACILITY_LIFECYCLE, FACILITY_SYSCALLS, Target

# A test that uses one of these fixtures needs the facility whether or not it says so.
FIXTURE_NEEDS = {"db": FACILITY_DB, "storage": FACILITY_FS, "lifecycle": FACILITY_LIFECYCLE,
                 "spawn_se": FACILITY_LIFECYCLE}  # fmt: skip
PROFILE_FACILITIES = {
    "core": frozenset(),
    "db": frozenset({FACILITY_DB}),
    "fs": frozenset({FACILITY_FS}),
    "lifecycle": frozenset({FACILITY_LIFECYCLE, FACILITY_SYSCALLS}),
    "full": frozenset({FACILITY_DB, FACILITY_FS, FACILITY_LIFECYCLE, FACILITY_SYSCALLS}),
}
# How to get a facility that only an option offers.
FACILITY_HINTS = {FACILITY_SYSCALLS: " (local target with --se-trace-syscalls)"}
UNSUPPORTED = "unsupported: "


def is_suite_item(item: pytest.Item) -> bool:
    return item.get_closest_marker("req") is not None


def needs_of(item: pytest.Item) -> frozenset[str]:
    found = {FIXTURE_NEEDS[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURE_NEEDS}
    for mark in item.iter_markers("needs"):
        found.update(str(a) for a in mark.args)
    return frozenset(found)


def capabilities_of(item: pytest.Item) -> frozenset[str]:
    return frozenset(str(a) for mark in item.iter_markers("capability") for a in mark.args)


def requirement_ids(item: pytest.Item) -> tuple[str, ...]:
    ids = [str(a) for mark in item.iter_markers("req") for a in mark.args]
    return tuple(dict.fromkeys(ids))


def select(items: list[pytest.Item], profile: str, config: pytest.Config, only: frozenset[str] = frozenset()) -> None:
    """Deselect suite tests outside the profile or the requested requirements (same on every xdist worker)."""
    allowed = PROFILE_FACILITIES[profile]
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        if not is_suite_item(item):
            keep.append(item)
            continue
        in_profile = needs_of(item) <= allowed
        asked_for = not only or bool(only & set(requirement_ids(item)))
        (keep if in_profile and asked_for else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def unsupported_reason(item: pytest.Item, target: Target) -> str | None:
    missing = sorted(needs_of(item) - target.facilities)
    if missing:
        hints = "".join(FACILITY_HINTS.get(name, "") for name in missing)
        return f"{UNSUPPORTED}the {target.kind} target offers no {', '.join(missing)} facility{hints}"
    undeclared = sorted(capabilities_of(item) - target.capabilities)
    if undeclared:
        return f"{UNSUPPORTED}capability {', '.join(undeclared)} not declared by the target profile"
    return None
