"""DELETE /api/v1/files/{file_id} in mode edit (contract §2). Other modes: suites/modes."""

from __future__ import annotations

import pytest

from harness.client import SEClient
from harness.expect import arrange, expect_status
from harness.tokens import TokenFactory
from suites.support.files import expect_gone, expect_present, file_path, upload_ok
from suites.support.roles import token_for


@pytest.mark.req("SE-FILE-033")
@pytest.mark.parametrize("role", ["operator", "admin"])
def test_delete_by_operator_or_admin_is_204(api: SEClient, tokens: TokenFactory, role: str) -> None:
    stored = upload_ok(api)
    resp = api.with_token(token_for(tokens, role)).delete(file_path(stored.file_id))
    expect_status(resp, 204, req="SE-FILE-033", what=f"DELETE by {role}")


@pytest.mark.req("SE-FILE-034")
def test_delete_by_user_is_403(api: SEClient) -> None:
    stored = upload_ok(api)
    expect_status(api.delete(file_path(stored.file_id)), 403, req="SE-FILE-034", what="DELETE by a user")
    expect_present(api, stored, req="SE-FILE-034", what="the file after the refused DELETE")


@pytest.mark.req("SE-FILE-035")
@pytest.mark.parametrize("role", ["operator", "admin"])
def test_deleted_file_is_gone(api: SEClient, tokens: TokenFactory, role: str) -> None:
    stored = upload_ok(api)
    keeper = upload_ok(api)
    resp = api.with_token(token_for(tokens, role)).delete(file_path(stored.file_id))
    with arrange(f"DELETE by {role}"):  # who may delete is SE-FILE-033's rule; this one judges what is left
        expect_status(resp, 204, req="SE-FILE-033", what=f"DELETE by {role}")
    expect_gone(api, stored.file_id, req="SE-FILE-035", what="after DELETE")
    expect_present(api, keeper, req="SE-FILE-035", what="another file after the DELETE")
