"""Unknown and malformed file ids (contract §2)."""

from __future__ import annotations

import httpx
import pytest

from harness.client import SEClient
from harness.expect import expect_status
from harness.tokens import TokenFactory
from suites.support.data import new_uuid
from suites.support.files import download_path, file_path, gc_exists_path, gc_path
from suites.support.roles import token_for

# (operation, method, path builder, token role); DELETE needs an operator so the role check passes.
OPERATIONS = {
    "metadata": ("GET", file_path, "user"),
    "download": ("GET", download_path, "user"),
    "patch": ("PATCH", file_path, "user"),
    "delete": ("DELETE", file_path, "operator"),
}
GC_OPERATIONS = {
    "gc-delete": ("DELETE", gc_path, "service"),
    "gc-exists": ("GET", gc_exists_path, "service"),
}


def send(api: SEClient, tokens: TokenFactory, operation: str, file_id: str) -> httpx.Response:
    method, path_of, role = {**OPERATIONS, **GC_OPERATIONS}[operation]
    client = api.with_token(token_for(tokens, role))
    if method == "PATCH":
        return client.patch(path_of(file_id), json={"description": "never stored"})
    return client.request(method, path_of(file_id))


@pytest.mark.req("SE-FILE-041")
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_unknown_id_is_404(api: SEClient, tokens: TokenFactory, operation: str) -> None:
    resp = send(api, tokens, operation, new_uuid())
    expect_status(resp, 404, req="SE-FILE-041", what=f"{operation} of an unknown well-formed UUID")


MALFORMED = ("not-a-uuid", "12345", "0123456789abcdef0123456789abcdeg", "xyz-0000-0000-0000-000000000000")
ALL_OPERATIONS = [*OPERATIONS, *GC_OPERATIONS]


@pytest.mark.req("SE-FILE-042")
@pytest.mark.parametrize(
    ("operation", "file_id"),
    # Each operation with one of the malformed shapes (cycled): every operation and every shape is tried.
    [(op, MALFORMED[i % len(MALFORMED)]) for i, op in enumerate(ALL_OPERATIONS)],
)
def test_malformed_id_is_422(api: SEClient, tokens: TokenFactory, operation: str, file_id: str) -> None:
    resp = send(api, tokens, operation, file_id)
    expect_status(resp, 422, req="SE-FILE-042", what=f"{operation} of the malformed id {file_id!r}")
