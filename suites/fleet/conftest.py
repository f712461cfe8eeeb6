"""The fleet-wide checks run once per fleet (``pytest suites/fleet --se-fleet FILE``, or
``se-conformance run --fleet FILE``), never in a single-SE run: their ``needs("fleet")`` is a facility
no target offers, so every single-SE profile deselects them.

Tests take ``member`` (one per SE) or ``pair`` (one per two SEs); the test id names the SE(s), and each
test records its requirement and subject as JUnit properties (``harness.fleet.results`` reads them).
"""

from __future__ import annotations

import pytest

from harness.fleet.checks import pair_id, pairs
from harness.fleet.spec import Fleet, FleetEntry, load_fleet
from harness.plugin import options as opt

FLEET_KEY = pytest.StashKey[Fleet | None]()


def fleet_of(config: pytest.Config) -> Fleet | None:
    if FLEET_KEY not in config.stash:
        path = config.getoption(opt.dest(opt.FLEET), None)
        config.stash[FLEET_KEY] = load_fleet(path) if path else None
    return config.stash[FLEET_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    fleet = fleet_of(metafunc.config)
    if "member" in metafunc.fixturenames:
        members = list(fleet.entries) if fleet else []
        metafunc.parametrize("member", members, ids=[e.name for e in members])
    if "pair" in metafunc.fixturenames:
        found = pairs(fleet) if fleet else []
        metafunc.parametrize("pair", found, ids=[pair_id(a, b) for a, b in found])


@pytest.fixture(scope="session")
def fleet(request: pytest.FixtureRequest) -> Fleet:
    found = fleet_of(request.config)
    if found is None:
        pytest.skip(f"unsupported: no fleet file ({opt.FLEET})")
    return found


@pytest.fixture(autouse=True)
def _fleet_properties(request: pytest.FixtureRequest) -> None:
    """JUnit properties (as the plugin's reporting layer adds them, not ``record_property``, which the
    project's xunit2 JUnit refuses): the requirement IDs and the SE(s) the test is about."""
    node = request.node
    ids = [str(a) for mark in node.iter_markers("req") for a in mark.args]
    node.user_properties.append(("requirements", " ".join(dict.fromkeys(ids))))
    callspec = getattr(node, "callspec", None)
    params = callspec.params if callspec is not None else {}
    if isinstance(params.get("member"), FleetEntry):
        node.user_properties.append(("subject", params["member"].name))
    elif "pair" in params:
        a, b = params["pair"]
        node.user_properties.append(("subject", f"{a.name} {b.name}"))
