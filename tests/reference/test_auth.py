"""Contract §3: RS256 bearer tokens, required claims, roles and service accounts."""

from __future__ import annotations

import uuid

import httpx
import pytest

from harness.tokens import REQUIRED_CLAIMS as CLAIMS
from tests.reference.helpers import upload
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess

BROKEN = ["expired", "not_yet_valid", "wrong_key", "alg_none", "hs256_public_key", "unknown_type", "garbage"] + [
    f"missing:{claim}" for claim in CLAIMS
]
PROTECTED = [
    ("GET", "/api/v1/files"),
    ("GET", f"/api/v1/files/{uuid.UUID(int=1)}"),
    ("GET", f"/api/v1/files/{uuid.UUID(int=1)}/download"),
    ("POST", "/api/v1/files/upload"),
    ("PATCH", f"/api/v1/files/{uuid.UUID(int=1)}"),
    ("DELETE", f"/api/v1/files/{uuid.UUID(int=1)}"),
    ("DELETE", f"/api/v1/gc/{uuid.UUID(int=1)}"),
    ("GET", f"/api/v1/gc/{uuid.UUID(int=1)}/exists"),
    ("GET", "/api/v1/cache/consistency"),
    ("POST", "/api/v1/cache/rebuild"),
    ("POST", "/api/v1/cache/rebuild/incremental"),
    ("POST", "/api/v1/cache/cleanup-expired"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_is_401_with_challenge(se: SEProcess, method: str, path: str) -> None:
    r = httpx.request(method, se.url + path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert isinstance(r.json()["detail"], str)


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_tokens_are_401(se: SEProcess, tokens: Tokens, kind: str) -> None:
    with se.client(tokens.broken(kind)) as c:
        r = c.get("/api/v1/files")
    assert r.status_code == 401, (kind, r.text)
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_other_schemes_are_401(se: SEProcess, tokens: Tokens) -> None:
    for header in (f"Basic {tokens.user}", "Bearer", tokens.user, "Bearer a b"):
        r = httpx.get(se.url + "/api/v1/files", headers={"Authorization": header})
        assert r.status_code == 401, header


@pytest.mark.parametrize("role", ["user", "USER", "Operator", "admin"])
def test_roles_case_insensitive(se: SEProcess, tokens: Tokens, role: str) -> None:
    with se.client(tokens.mint(role)) as c:
        fid = upload(c, b"r", "r.txt").json()["file_id"]
        expected = 403 if role.lower() == "user" else 204
        assert c.delete(f"/api/v1/files/{fid}").status_code == expected


def test_unknown_role_grants_nothing_more(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.admin) as c:
        fid = upload(c, b"u", "u.txt").json()["file_id"]
    for role in ("superadmin", "root", "admin "):
        with se.client(tokens.mint(role)) as c:
            assert c.get(f"/api/v1/files/{fid}").status_code == 200
            assert c.delete(f"/api/v1/files/{fid}").status_code == 403
        with se.client(tokens.mint(role, "service_account")) as c:
            assert c.get(f"/api/v1/gc/{fid}/exists").status_code == 200  # service account, not a role


@pytest.mark.parametrize(
    ("type_", "client_id", "is_service"),
    [
        ("service_account", None, True),
        ("access", "sa_gc", True),
        ("refresh", "sa_gc", True),
        ("access", "gc", False),
        ("access", None, False),
        ("admin_user", "sa_x", False),
    ],
)
def test_service_account_rules(
    se: SEProcess, tokens: Tokens, type_: str, client_id: str | None, is_service: bool
) -> None:
    extra = {"client_id": client_id} if client_id else {}
    with se.client(tokens.mint("admin", type_, **extra)) as c:
        r = c.get(f"/api/v1/gc/{uuid.uuid4()}/exists")
        assert r.status_code == (200 if is_service else 403)
        assert c.get("/api/v1/cache/consistency").status_code == (200 if is_service else 403)


def test_sub_and_name_are_recorded(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.mint("user", sub="u-42", name="bob", full_name="Bob Builder")) as c:
        fid = upload(c, b"x", "x.txt").json()["file_id"]
        meta = c.get(f"/api/v1/files/{fid}").json()
    assert meta["created_by_username"] == "bob"
    assert meta["created_by_fullname"] == "Bob Builder"
    assert "_bob_" in meta["storage_filename"]


def test_oversized_claims_are_401(se: SEProcess, tokens: Tokens) -> None:
    with se.client(tokens.mint(name="n" * 300)) as c:
        assert c.get("/api/v1/files").status_code == 401
