"""compose/docker-compose.yml, checked statically (it runs for real in tests/harness/test_compose_up.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.profile import CONTRACT_ENV

yaml = pytest.importorskip("yaml")

COMPOSE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
SES = ("se-a", "se-b")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())  # resolves the anchors and << merge keys like Compose
    assert isinstance(data, dict)
    return dict(data["services"])


def test_two_ses_share_one_database_under_different_prefixes(services: dict[str, Any]) -> None:
    assert {"postgres", "keys", *SES} <= set(services)
    envs = [services[name]["environment"] for name in SES]
    for env in envs:
        assert set(CONTRACT_ENV) <= set(env), f"missing: {set(CONTRACT_ENV) - set(env)}"
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,31}", env["DB_TABLE_PREFIX"])
        assert env["DB_HOST"] == "postgres"
    assert len({env["DB_TABLE_PREFIX"] for env in envs}) == 2
    assert len({env["STORAGE_ELEMENT_ID"] for env in envs}) == 2
    assert len({(env["DB_HOST"], env["DB_DATABASE"]) for env in envs}) == 1


def test_storage_is_per_se_and_the_key_is_read_only(services: dict[str, Any]) -> None:
    storages = set()
    for name in SES:
        mounts = services[name]["volumes"]
        assert "keys:/keys:ro" in mounts
        storage = [m for m in mounts if m.endswith(":" + services[name]["environment"]["STORAGE_LOCAL_BASE_PATH"])]
        assert len(storage) == 1
        storages.add(storage[0])
        assert services[name]["environment"]["JWT_PUBLIC_KEY_PATH"].startswith("/keys/")
    assert len(storages) == 2


def test_ports_are_on_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_healthchecks_and_start_order(services: dict[str, Any]) -> None:
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    for name in SES:
        assert "/health/ready" in " ".join(services[name]["healthcheck"]["test"])
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["keys"]["condition"] == "service_completed_successfully"


def test_key_script_is_valid_python(services: dict[str, Any]) -> None:
    command = services["keys"]["command"]
    assert command[:2] == ["python", "-c"]
    compile(command[2], "keys", "exec")
