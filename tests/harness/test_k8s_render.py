"""``se-conformance k8s render``: the manifests validate offline against the Kubernetes schemas that
``kubernetes-validate`` ships (strict: no unknown field), and say what the fleet file says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from harness.cli import build_parser
from harness.fleet import toml_out
from harness.fleet.spec import FleetEntry, parse_fleet
from harness.k8s import manifests
from harness.k8s.write import load
from harness.targets.url import ALLOWED_HOSTS_ENV
from harness.tokens import TokenFactory

#: The oldest and the newest Kubernetes the installed kubernetes-validate ships schemas for (offline).
VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("k8s")
    (tmp / "key.pem").write_bytes(TokenFactory().private_pem)
    (tmp / "my-se.toml").write_text('name = "my-se"\ncapabilities = ["range"]\n')
    entries = [FleetEntry("se-a", "http://127.0.0.1:8101", "se_a", "edit", private_key=tmp / "key.pem",
                          profile_file=tmp / "my-se.toml"),
               FleetEntry("se-b", "http://127.0.0.1:8102", "se_b", "edit", private_key=tmp / "key.pem"),
               FleetEntry("se-c", "http://127.0.0.1:8103", "se_c", "rw", private_key=tmp / "key.pem",
                          capabilities=("etag",))]  # fmt: skip
    fleet_file = toml_out.write(tmp / "fleet.toml", entries)
    out = tmp / "manifests"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "k8s", "render", "--fleet", str(fleet_file),
                           "--out", str(out), "--db-password", "pw", "--namespace", "qa"],
                          capture_output=True, text=True, cwd=REPO, check=False, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {path.stem: load(path) for path in sorted(out.glob("*.yaml"))}


def objects(rendered: dict[str, list[dict[str, Any]]], kind: str | None = None) -> list[dict[str, Any]]:
    return [o for docs in rendered.values() for o in docs if kind is None or o["kind"] == kind]


def named(rendered: dict[str, list[dict[str, Any]]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects(rendered, kind) if o["metadata"]["name"] == name)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_validates_strictly_offline(rendered: dict[str, list[dict[str, Any]]], version: str) -> None:
    for obj in objects(rendered):
        kubernetes_validate.validate(obj, version, strict=True)  # raises ValidationError


def test_the_files_and_objects_are_the_fleet(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert list(rendered) == ["00-namespace", "10-postgres", "20-se-a", "20-se-b", "20-se-c", "30-conformance-job"]
    for name in ("se-a", "se-b", "se-c"):
        assert [o["kind"] for o in rendered[f"20-{name}"]] == ["PersistentVolumeClaim", "Deployment", "Service"]
    assert [o["kind"] for o in rendered["10-postgres"]] == ["Secret", "PersistentVolumeClaim", "Deployment",
                                                           "Service", "ConfigMap"]  # fmt: skip
    for obj in objects(rendered):
        labels = obj["metadata"]["labels"]
        assert labels[manifests.PART_OF] == "se-conformance", obj["metadata"]
        assert labels[manifests.FLEET_LABEL] == "fleet"
        assert obj["kind"] == "Namespace" or obj["metadata"]["namespace"] == "qa"


def test_each_se_gets_its_mode_prefix_key_and_storage(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name, mode, prefix in (("se-a", "edit", "se_a"), ("se-c", "rw", "se_c")):
        pod = named(rendered, "Deployment", name)["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["APP_MODE"] == mode
        assert env["DB_TABLE_PREFIX"] == prefix
        assert env["DB_HOST"] == manifests.PG_SERVICE
        assert env["STORAGE_ELEMENT_ID"] == name
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["storage"]["persistentVolumeClaim"]["claimName"] == f"{name}-storage"
        assert volumes["jwt"]["configMap"]["items"] == [{"key": f"{name}.pem", "path": "jwt-public.pem"}]
        assert named(rendered, "Service", name)["spec"]["selector"] == {"app": name}
    keys = named(rendered, "ConfigMap", manifests.PUBLIC_KEYS)["data"]
    assert sorted(keys) == ["se-a.pem", "se-b.pem", "se-c.pem"]
    assert all(pem.startswith("-----BEGIN PUBLIC KEY-----") for pem in keys.values())


Rendered = dict[str, list[dict[str, Any]]]


def test_the_job_runs_the_fleet_against_the_services(rendered: Rendered, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:  # fmt: skip
    job = named(rendered, "Job", manifests.JOB)["spec"]["template"]["spec"]
    container = job["containers"][0]
    args = build_parser().parse_args(container["command"][1:])
    assert args.fleet == Path("/fleet/fleet.toml")
    assert args.out == Path("/results")
    assert args.se_profile == "core"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env[ALLOWED_HOSTS_ENV] == "se-a,se-b,se-c,postgres"
    volumes = {v["name"]: v for v in job["volumes"]}
    assert volumes["results"]["persistentVolumeClaim"]["claimName"] == manifests.RESULTS_PVC
    data = named(rendered, "Secret", manifests.FLEET_SECRET)["stringData"]
    assert data["se-a-profile.toml"].startswith('name = "my-se"')
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, env[ALLOWED_HOSTS_ENV])
    import tomllib

    fleet = parse_fleet(tomllib.loads(data["fleet.toml"]), "fleet.toml", tmp_path)
    assert [(e.name, e.url, e.table_prefix, e.mode) for e in fleet.entries] == [
        ("se-a", "http://se-a:8000", "se_a", "edit"), ("se-b", "http://se-b:8000", "se_b", "edit"),
        ("se-c", "http://se-c:8000", "se_c", "rw")]  # fmt: skip
    assert {e.db_dsn for e in fleet.entries} == {"postgresql://se:pw@postgres:5432/se"}
    assert fleet.entries[0].profile_file == Path("/fleet/se-a-profile.toml")
    assert fleet.entries[2].capabilities == ("etag",)
    wait = job["initContainers"][0]["command"]
    assert wait[-3:] == [f"http://{n}:8000/health/ready" for n in ("se-a", "se-b", "se-c")]
    compile(wait[2], "wait-for-ses", "exec")


def test_the_services_are_refused_outside_the_cluster_without_the_host_list(tmp_path: Path) -> None:
    from harness.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="'se-a' is not on this machine"):
        parse_fleet({"se": [{"name": "se-a", "url": "http://se-a:8000", "table_prefix": "se_a", "mode": "edit",
                             "private_key": "k.pem"}]}, "f.toml", tmp_path)  # fmt: skip


def test_a_fleet_with_tokens_only_cannot_be_deployed(tmp_path: Path) -> None:
    fleet_file = toml_out.write(tmp_path / "fleet.toml", [FleetEntry("se-a", "http://127.0.0.1:8101", "se_a", "edit",
                                                                     tokens={"user": "t"})])  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "harness.cli", "k8s", "render", "--fleet", str(fleet_file),
                           "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, cwd=REPO, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "has ready tokens but no private_key" in done.stderr
    assert "hint:" in done.stderr
