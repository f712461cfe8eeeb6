"""Authorisation: token types, roles, service accounts, and who is recorded as the creator (§3)."""

from __future__ import annotations

import pytest

from harness.client import SEClient
from harness.dbview import DbView
from harness.expect import expect, expect_equal, expect_json, expect_status
from harness.tokens import TokenFactory
from suites.support.data import tag
from suites.support.files import expect_present, file_path, gc_exists_path, get_meta, upload_ok

TOKEN_TYPES = ("admin_user", "service_account", "access", "refresh")


@pytest.mark.req("SE-AUTH-012")
@pytest.mark.parametrize("token_type", TOKEN_TYPES)
def test_every_token_type_is_accepted(api: SEClient, tokens: TokenFactory, token_type: str) -> None:
    client = api.with_token(tokens.mint(role="user", type=token_type))
    stored = upload_ok(client, req="SE-AUTH-012")  # any valid token may upload: the act
    get_meta(client, stored.file_id, req="SE-AUTH-012", what=f"metadata with a {token_type} token")


@pytest.mark.req("SE-AUTH-013")
@pytest.mark.parametrize(("role", "expected"), [("OPERATOR", 204), ("Admin", 204), ("oPeRaToR", 204), ("USER", 403)])
def test_role_is_case_insensitive(api: SEClient, tokens: TokenFactory, role: str, expected: int) -> None:
    stored = upload_ok(api)
    resp = api.with_token(tokens.mint(role=role)).delete(file_path(stored.file_id))
    expect_status(resp, expected, req="SE-AUTH-013", what=f"DELETE with role {role!r}")


UNKNOWN_ROLES = ("superuser", "root", "administrator", "operators", "")


@pytest.mark.req("SE-AUTH-014")
@pytest.mark.parametrize("role", UNKNOWN_ROLES, ids=[r or "empty" for r in UNKNOWN_ROLES])
def test_unknown_role_cannot_delete(api: SEClient, tokens: TokenFactory, role: str) -> None:
    stored = upload_ok(api)
    claims = tokens.claims(role="user")
    claims["role"] = role
    resp = api.with_token(tokens.sign(claims)).delete(file_path(stored.file_id))
    expect_status(resp, (401, 403), req="SE-AUTH-014", what=f"DELETE with the unknown role {role!r}")
    expect_present(api, stored, req="SE-AUTH-014", what="the file after the refused DELETE")


@pytest.mark.req("SE-AUTH-014")
@pytest.mark.parametrize("token_type", ["admin_user", "service_account"])
def test_unknown_role_cannot_delete_whatever_the_type(api: SEClient, tokens: TokenFactory, token_type: str) -> None:
    """Rights come from the role: a token type that sounds privileged does not stand in for an unknown
    role (an admin_user or service_account token with role "superuser" is no operator or admin)."""
    stored = upload_ok(api)
    resp = api.with_token(tokens.mint(role="superuser", type=token_type)).delete(file_path(stored.file_id))
    expect_status(resp, (401, 403), req="SE-AUTH-014",
                  what=f"DELETE with a {token_type} token whose role is 'superuser'")  # fmt: skip
    expect_present(api, stored, req="SE-AUTH-014", what="the file after the refused DELETE")


def expect_service_account(api: SEClient, token: str, *, req: str, what: str) -> None:
    stored = upload_ok(api)
    resp = api.with_token(token).get(gc_exists_path(stored.file_id))
    expect_status(resp, 200, req=req, what=f"GC exists with {what}")
    body = expect_json(resp, req=req)
    expect(isinstance(body, dict) and body.get("exists") is True, req=req, what=f"GC exists with {what}",
           expected='{"exists": true, ...}', actual=body, resp=resp)  # fmt: skip


@pytest.mark.req("SE-AUTH-015")
@pytest.mark.parametrize("role", ["user", "admin"])
def test_service_account_type(api: SEClient, tokens: TokenFactory, role: str) -> None:
    token = tokens.mint(role=role, type="service_account")
    expect_service_account(api, token, req="SE-AUTH-015", what=f"a service_account token (role {role})")


@pytest.mark.req("SE-AUTH-016")
@pytest.mark.parametrize("token_type", ["access", "refresh"])
def test_sa_client_id_makes_a_service_account(api: SEClient, tokens: TokenFactory, token_type: str) -> None:
    token = tokens.mint(role="user", type=token_type, client_id=f"sa_conformance_{tag()}")
    expect_service_account(api, token, req="SE-AUTH-016", what=f"an {token_type} token with client_id sa_*")


@pytest.mark.req("SE-AUTH-016")
@pytest.mark.parametrize("client_id", ["app_conformance", "xsa_conformance", "SA-conformance", "sa"])
def test_other_client_id_is_no_service_account(api: SEClient, tokens: TokenFactory, client_id: str) -> None:
    stored = upload_ok(api)
    token = tokens.mint(role="admin", type="access", client_id=client_id)
    resp = api.with_token(token).get(gc_exists_path(stored.file_id))
    expect_status(resp, 403, req="SE-AUTH-016", what=f"GC exists with an access token, client_id {client_id!r}")


@pytest.mark.req("SE-AUTH-017")
def test_name_becomes_created_by_username(api: SEClient, tokens: TokenFactory) -> None:
    name = f"Zoë Conformance {tag()}"
    client = api.with_token(tokens.mint(role="user", name=name))
    stored = upload_ok(client, req="SE-AUTH-017")
    meta = get_meta(api, stored.file_id)
    expect_equal(meta.get("created_by_username"), name, req="SE-AUTH-017", what="created_by_username")


@pytest.mark.req("SE-AUTH-018")
def test_sub_is_recorded_as_creator(api: SEClient, tokens: TokenFactory, db: DbView) -> None:
    sub = f"creator-{tag()}"
    stored = upload_ok(api.with_token(tokens.mint(role="user", sub=sub)), req="SE-AUTH-018")
    row = db.file_row(stored.file_id)
    expect(row is not None, req="SE-AUTH-018", what="the file's row in p_files", expected="one row",
           actual=None)  # fmt: skip
    assert row is not None
    expect_equal(str(row.get("created_by_id")), sub, req="SE-AUTH-018", what="p_files.created_by_id")
