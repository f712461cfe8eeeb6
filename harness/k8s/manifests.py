"""The objects of a fleet in Kubernetes, as plain dicts (pure).

Per SE: a PersistentVolumeClaim for its storage, a Deployment of the SE image (``APP_MODE`` and
``DB_TABLE_PREFIX`` from its fleet entry) and a Service. Once: a Namespace, PostgreSQL (Secret, PVC,
Deployment, Service), the SEs' JWT public keys (ConfigMap), and the conformance Job with its Secret (the
in-cluster fleet file, private keys, profile files) and a results PVC. Every object carries the labels
``LABELS`` + the fleet name, so ``kubectl delete -l`` removes exactly them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.fleet import toml_out
from harness.fleet.spec import Fleet, FleetEntry

PART_OF = "app.kubernetes.io/part-of"
FLEET_LABEL = "se-conformance/fleet"
SE_PORT = 8000
PG_PORT = 5432
PG_SERVICE = "postgres"
PG_USER = "se"
PG_DATABASE = "se"
SE_UID = 10001  # reference_service/Dockerfile: USER 10001:10001
KEYS_DIR = "/keys"
FLEET_DIR = "/fleet"
RESULTS_DIR = "/results"
STORAGE_DIR = "/data/storage"
JOB = "se-conformance-fleet"
FLEET_SECRET = "se-conformance-fleet"
RESULTS_PVC = "se-conformance-results"
PUBLIC_KEYS = "se-jwt-public"
PG_SECRET = "postgres"
ALLOWED_HOSTS_ENV = "SE_CONFORMANCE_ALLOWED_HOSTS"  # harness.targets.url.ALLOWED_HOSTS_ENV


@dataclass(frozen=True)
class RenderOptions:
    namespace: str = "se-fleet"
    fleet_name: str = "fleet"
    se_image: str = "se-conformance/reference-se:latest"
    suite_image: str = "se-conformance/suite:latest"
    postgres_image: str = "postgres:16"
    db_password: str = "change-me"
    se_storage: str = "10Gi"
    db_storage: str = "5Gi"
    results_storage: str = "1Gi"
    storage_class: str | None = None
    se_capacity_bytes: int = 10 * 1024**3
    profile: str = "core"
    extra_run_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyMaterial:
    """Per SE: its JWT public key (PEM) for the SE, its private key (PEM) for the Job; profile file texts."""

    public_pem: dict[str, str]
    private_pem: dict[str, str]
    profiles: dict[str, str] = field(default_factory=dict)


def _meta(name: str, opts: RenderOptions, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": opts.namespace,
            "labels": {PART_OF: "se-conformance", FLEET_LABEL: opts.fleet_name, **labels}}  # fmt: skip


def _pvc(name: str, size: str, opts: RenderOptions) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if opts.storage_class:
        spec["storageClassName"] = opts.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(name, opts), "spec": spec}


def _service(name: str, port: int, opts: RenderOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, opts),
            "spec": {"selector": {"app": name}, "ports": [{"name": "http" if port == SE_PORT else "postgres",
                                                          "port": port, "targetPort": port}]}}  # fmt: skip


def _secret_env(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": PG_SECRET, "key": key}}}


def postgres(opts: RenderOptions) -> list[dict[str, Any]]:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(PG_SECRET, opts), "type": "Opaque",
              "stringData": {"POSTGRES_USER": PG_USER, "POSTGRES_PASSWORD": opts.db_password,
                             "POSTGRES_DB": PG_DATABASE}}  # fmt: skip
    container = {
        "name": "postgres", "image": opts.postgres_image, "ports": [{"containerPort": PG_PORT}],
        "env": [*(_secret_env(k, k) for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")),
                {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
        "readinessProbe": {"exec": {"command": ["pg_isready", "-U", PG_USER, "-d", PG_DATABASE]},
                           "periodSeconds": 5},
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
    }  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(PG_SERVICE, opts),
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"app": PG_SERVICE}},
                 "template": {"metadata": {"labels": {"app": PG_SERVICE, FLEET_LABEL: opts.fleet_name}},
                              "spec": {"containers": [container],
                                       "volumes": [{"name": "data",
                                                    "persistentVolumeClaim": {"claimName": "postgres-data"}}]}}},
    }  # fmt: skip
    return [secret, _pvc("postgres-data", opts.db_storage, opts), deployment, _service(PG_SERVICE, PG_PORT, opts)]


def public_keys(keys: KeyMaterial, opts: RenderOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(PUBLIC_KEYS, opts),
            "data": {f"{name}.pem": pem for name, pem in sorted(keys.public_pem.items())}}  # fmt: skip


def se_objects(entry: FleetEntry, opts: RenderOptions) -> list[dict[str, Any]]:
    env = {"SERVER_HOST": "0.0.0.0", "SERVER_PORT": str(SE_PORT), "APP_MODE": entry.mode, "DB_HOST": PG_SERVICE,
           "DB_PORT": str(PG_PORT), "DB_DATABASE": PG_DATABASE, "DB_TABLE_PREFIX": entry.table_prefix,
           "STORAGE_TYPE": "local", "STORAGE_LOCAL_BASE_PATH": STORAGE_DIR,
           "STORAGE_MAX_SIZE": str(opts.se_capacity_bytes), "STORAGE_ELEMENT_ID": entry.name,
           "JWT_PUBLIC_KEY_PATH": f"{KEYS_DIR}/jwt-public.pem", "JWT_ALGORITHM": "RS256"}  # fmt: skip
    probe = {"httpGet": {"path": "/health/ready", "port": SE_PORT}, "periodSeconds": 5}
    container = {
        "name": "se", "image": opts.se_image, "ports": [{"containerPort": SE_PORT, "name": "http"}],
        "env": [*({"name": k, "value": v} for k, v in env.items()),
                _secret_env("DB_USERNAME", "POSTGRES_USER"), _secret_env("DB_PASSWORD", "POSTGRES_PASSWORD")],
        "readinessProbe": probe,
        "livenessProbe": {"httpGet": {"path": "/health/live", "port": SE_PORT}, "periodSeconds": 10,
                          "failureThreshold": 6},
        "volumeMounts": [{"name": "storage", "mountPath": STORAGE_DIR},
                         {"name": "jwt", "mountPath": KEYS_DIR, "readOnly": True}],
    }  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(entry.name, opts, **{"se-conformance/mode": entry.mode}),
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"app": entry.name}},
                 "template": {"metadata": {"labels": {"app": entry.name, FLEET_LABEL: opts.fleet_name}},
                              "spec": {"securityContext": {"fsGroup": SE_UID},
                                       "containers": [container],
                                       "volumes": [
                                           {"name": "storage",
                                            "persistentVolumeClaim": {"claimName": f"{entry.name}-storage"}},
                                           {"name": "jwt", "configMap": {"name": PUBLIC_KEYS, "items": [
                                               {"key": f"{entry.name}.pem", "path": "jwt-public.pem"}]}},
                                       ]}}},
    }  # fmt: skip
    return [_pvc(f"{entry.name}-storage", opts.se_storage, opts), deployment, _service(entry.name, SE_PORT, opts)]


def in_cluster_fleet(fleet: Fleet, keys: KeyMaterial, opts: RenderOptions) -> str:
    """The fleet file the Job reads: each SE at its Service, the fleet's PostgreSQL, keys under /keys."""
    tables = []
    for entry in fleet.entries:
        table: dict[str, Any] = {
            "name": entry.name, "url": f"http://{entry.name}:{SE_PORT}", "table_prefix": entry.table_prefix,
            "mode": entry.mode,
            "db_dsn": f"postgresql://{PG_USER}:{opts.db_password}@{PG_SERVICE}:{PG_PORT}/{PG_DATABASE}",
        }  # fmt: skip
        if entry.name in keys.profiles:
            table["profile_file"] = f"{FLEET_DIR}/{entry.name}-profile.toml"
        if entry.capabilities:
            table["capabilities"] = list(entry.capabilities)
        table["private_key"] = f"{KEYS_DIR}/{entry.name}.pem"
        tables.append(table)
    return toml_out.dumps(tables, f"In-cluster fleet {opts.fleet_name}: rendered by se-conformance k8s render.")


def job_objects(fleet: Fleet, keys: KeyMaterial, opts: RenderOptions) -> list[dict[str, Any]]:
    data = {"fleet.toml": in_cluster_fleet(fleet, keys, opts),
            **{f"{name}-profile.toml": text for name, text in sorted(keys.profiles.items())}}  # fmt: skip
    fleet_secret = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(FLEET_SECRET, opts), "type": "Opaque",
                    "stringData": data}  # fmt: skip
    key_secret = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(f"{FLEET_SECRET}-keys", opts),
                  "type": "Opaque",
                  "stringData": {f"{n}.pem": pem for n, pem in sorted(keys.private_pem.items())}}  # fmt: skip
    hosts = ",".join([*fleet.names(), PG_SERVICE])
    urls = [f"http://{name}:{SE_PORT}/health/ready" for name in fleet.names()]
    wait = ("import sys, time, httpx\n"
            "left = set(sys.argv[1:])\n"
            "deadline = time.monotonic() + 600\n"
            "while left and time.monotonic() < deadline:\n"
            "    for url in sorted(left):\n"
            "        try:\n"
            "            if httpx.get(url, timeout=2).status_code == 200: left.discard(url)\n"
            "        except httpx.HTTPError: pass\n"
            "    time.sleep(2)\n"
            "sys.exit(f'not ready: {sorted(left)}' if left else 0)\n")  # fmt: skip
    mounts = [{"name": "fleet", "mountPath": FLEET_DIR, "readOnly": True},
              {"name": "keys", "mountPath": KEYS_DIR, "readOnly": True},
              {"name": "results", "mountPath": RESULTS_DIR}]  # fmt: skip
    run = ["se-conformance", "run", "--fleet", f"{FLEET_DIR}/fleet.toml", "--profile", opts.profile,
           "--out", RESULTS_DIR, "--quiet", *opts.extra_run_args]  # fmt: skip
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(JOB, opts),
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 86400, "template": {
            "metadata": {"labels": {"app": JOB, FLEET_LABEL: opts.fleet_name}},
            "spec": {
                "restartPolicy": "Never",
                "initContainers": [{"name": "wait-for-ses", "image": opts.suite_image,
                                    "command": ["python", "-c", wait, *urls]}],
                "containers": [{"name": "se-conformance", "image": opts.suite_image, "command": run,
                                "env": [{"name": ALLOWED_HOSTS_ENV, "value": hosts}], "volumeMounts": mounts}],
                "volumes": [{"name": "fleet", "secret": {"secretName": FLEET_SECRET}},
                            {"name": "keys", "secret": {"secretName": f"{FLEET_SECRET}-keys", "defaultMode": 0o400}},
                            {"name": "results", "persistentVolumeClaim": {"claimName": RESULTS_PVC}}],
            }}},
    }  # fmt: skip
    return [fleet_secret, key_secret, _pvc(RESULTS_PVC, opts.results_storage, opts), job]


def render(fleet: Fleet, keys: KeyMaterial, opts: RenderOptions) -> dict[str, list[dict[str, Any]]]:
    """The objects by file: ``00-namespace``, ``10-postgres``, ``20-<se>`` each, ``30-conformance-job``."""
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": opts.namespace, "labels": {PART_OF: "se-conformance",
                                                                 FLEET_LABEL: opts.fleet_name}}}  # fmt: skip
    files = {"00-namespace": [namespace], "10-postgres": [*postgres(opts), public_keys(keys, opts)]}
    for entry in fleet.entries:
        files[f"20-{entry.name}"] = se_objects(entry, opts)
    files["30-conformance-job"] = job_objects(fleet, keys, opts)
    return files
