"""Public endpoints: /, health, info, capacity, metrics, openapi.json."""

from __future__ import annotations

import httpx

from tests.reference.seproc import SEProcess


def test_root(se: SEProcess) -> None:
    body = httpx.get(se.url + "/").json()
    assert set(body) >= {"service", "version", "mode", "storage_type", "status"}
    assert body["storage_type"] == "local"


def test_live(se: SEProcess) -> None:
    r = httpx.get(se.url + "/health/live")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_ready(se: SEProcess) -> None:
    r = httpx.get(se.url + "/health/ready")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "mode": "edit", "checks": {"database": "ok", "storage": "ok"}}


def test_info(se: SEProcess) -> None:
    info = httpx.get(se.url + "/api/v1/info").json()
    expected = {"name", "display_name", "version", "mode", "storage_type", "base_path", "capacity_bytes",
                "used_bytes", "file_count", "status", "priority", "element_id", "timestamp"}  # fmt: skip
    assert set(info) >= expected
    assert info["capacity_bytes"] == se.config.capacity
    assert info["element_id"] == f"se-{se.config.prefix}"
    assert info["status"] == "operational"
    assert info["base_path"] == str(se.config.storage)


def test_capacity(se: SEProcess) -> None:
    cap = httpx.get(se.url + "/api/v1/capacity").json()
    assert set(cap) >= {"storage_id", "mode", "capacity", "health", "last_update", "backend", "location"}
    assert set(cap["capacity"]) == {"total", "used", "available", "percent_used"}
    assert cap["backend"] == "local"


def test_metrics(se: SEProcess) -> None:
    httpx.get(se.url + "/")
    r = httpx.get(se.url + "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert "# TYPE se_http_requests_total counter" in lines
    assert any(line.startswith('se_http_requests_total{method="GET",route="/",status="200"}') for line in lines)
    assert any(line.startswith("se_capacity_bytes ") for line in lines)
    for line in lines:
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_openapi_declares_upload_body(se: SEProcess) -> None:
    spec = httpx.get(se.url + "/openapi.json").json()
    upload = spec["paths"]["/api/v1/files/upload"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert set(schema["properties"]) == {"file", "description", "version", "file_id", "custom_attributes"}
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    expected = [
        "/", "/health/live", "/health/ready", "/api/v1/info", "/api/v1/capacity", "/metrics", "/api/v1/files",
        "/api/v1/files/{file_id}", "/api/v1/files/{file_id}/download", "/api/v1/gc/{file_id}",
        "/api/v1/gc/{file_id}/exists", "/api/v1/cache/consistency", "/api/v1/cache/rebuild",
        "/api/v1/cache/rebuild/incremental", "/api/v1/cache/cleanup-expired",
    ]  # fmt: skip
    for path in expected:
        assert path in spec["paths"], path
