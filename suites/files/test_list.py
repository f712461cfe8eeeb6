"""GET /api/v1/files: shape, order, pagination, limit (contract §2).

The worker's SE is shared, so these tests reason about the files they stored themselves: those are the
newest, because a worker runs its tests one at a time.
"""

from __future__ import annotations

import itertools

import pytest

from harness.client import SEClient
from harness.expect import expect, expect_equal, expect_json, expect_status
from suites.support import fields
from suites.support.data import parse_ts, payload
from suites.support.files import FILES, MAX_LIMIT, get_meta, ids_of, list_page, total, upload_ok


@pytest.mark.req("SE-FILE-036")
def test_list_shape(api: SEClient) -> None:
    upload_ok(api)
    listing, resp = list_page(api, req="SE-FILE-036", limit=5)
    fields.expect_fields(listing, fields.LIST, req="SE-FILE-036", what="list", resp=resp)
    expect(fields.is_int(listing["total"]) and listing["total"] >= 1, req="SE-FILE-036", what="list total",
           expected="an integer ≥ 1", actual=listing["total"], resp=resp)  # fmt: skip
    expect(1 <= len(listing["files"]) <= 5, req="SE-FILE-036", what="entries for limit=5 with files stored",
           expected="1 to 5 entries", actual=len(listing["files"]), resp=resp)  # fmt: skip
    for entry in listing["files"]:
        fields.expect_fields(entry, fields.METADATA, req="SE-FILE-036", what="list entry", resp=resp)
    # Order-independent (order is SE-FILE-037): an entry equals what GET answers for its id.
    entry = listing["files"][0]
    expect_equal(entry, get_meta(api, entry["file_id"]), req="SE-FILE-036",
                 what="list entry = GET metadata")  # fmt: skip


@pytest.mark.req("SE-FILE-037")
def test_list_is_newest_first(api: SEClient) -> None:
    uploaded = [upload_ok(api, payload(10)).file_id for _ in range(3)]
    listing, resp = list_page(api, req="SE-FILE-037", limit=20)
    stamps = [parse_ts(e.get("created_at")) for e in listing["files"]]
    expect(all(s is not None for s in stamps), req="SE-FILE-037", what="list entries have created_at",
           expected="ISO 8601 created_at everywhere", resp=resp)  # fmt: skip
    ordered = all(a >= b for a, b in itertools.pairwise(stamps))  # type: ignore[operator]
    expect(ordered, req="SE-FILE-037", what="list order", expected="created_at non-increasing (newest first)",
           actual=[e.get("created_at") for e in listing["files"]], resp=resp)  # fmt: skip
    top = ids_of(listing)[:3]
    expect(set(top) == set(uploaded), req="SE-FILE-037", what="the three newest uploads head the list",
           expected=list(reversed(uploaded)), actual=top, resp=resp)  # fmt: skip
    created = {e["file_id"]: parse_ts(e.get("created_at")) for e in listing["files"][:3]}
    if len(set(created.values())) == 3:  # distinct timestamps: the order is fully determined
        expect_equal(top, list(reversed(uploaded)), req="SE-FILE-037", what="order of the newest uploads",
                     resp=resp)  # fmt: skip


@pytest.mark.req("SE-FILE-038")
def test_pagination(api: SEClient) -> None:
    for _ in range(5):
        upload_ok(api, payload(10))
    full, _ = list_page(api, req="SE-FILE-038", skip=0, limit=6)
    first, resp1 = list_page(api, req="SE-FILE-038", skip=0, limit=3)
    second, resp2 = list_page(api, req="SE-FILE-038", skip=3, limit=3)
    third, resp3 = list_page(api, req="SE-FILE-038", skip=2, limit=2)
    expect_equal(ids_of(first), ids_of(full)[:3], req="SE-FILE-038", what="skip=0 limit=3", resp=resp1)
    expect_equal(ids_of(second), ids_of(full)[3:6], req="SE-FILE-038", what="skip=3 limit=3", resp=resp2)
    expect_equal(ids_of(third), ids_of(full)[2:4], req="SE-FILE-038", what="skip=2 limit=2", resp=resp3)
    totals = {full.get("total"), first.get("total"), second.get("total"), third.get("total")}
    expect(len(totals) == 1 and isinstance(full.get("total"), int) and full["total"] >= 5, req="SE-FILE-038",
           what="total whatever skip and limit", expected="one total ≥ 5 on every page", actual=totals)  # fmt: skip
    beyond, resp = list_page(api, req="SE-FILE-038", skip=full["total"] + 1000, limit=5)
    expect_equal(ids_of(beyond), [], req="SE-FILE-038", what="a page beyond the end", resp=resp)


@pytest.mark.req("SE-FILE-039")
def test_limit_at_most_100(api: SEClient) -> None:
    have = total(api, req="SE-FILE-039")
    for _ in range(max(0, MAX_LIMIT + 1 - have)):
        upload_ok(api, payload(10))  # non-empty: empty files are a SHOULD of their own (SE-FILE-014)
    listing, resp = list_page(api, req="SE-FILE-039", limit=MAX_LIMIT)
    expect_equal(len(listing["files"]), MAX_LIMIT, req="SE-FILE-039", what="entries for limit=100 (> 100 stored)",
                 resp=resp)  # fmt: skip
    for limit in (MAX_LIMIT + 1, 1000):
        resp = api.get(FILES, params={"limit": limit})
        expect_status(resp, (200, 400, 422), req="SE-FILE-039", what=f"list with limit={limit}")
        if resp.status_code == 200:
            body = expect_json(resp, req="SE-FILE-039")
            count = len(body.get("files") or []) if isinstance(body, dict) else None
            expect(count is not None and count <= MAX_LIMIT, req="SE-FILE-039", what=f"entries for limit={limit}",
                   expected=f"at most {MAX_LIMIT} (or a 400/422 refusal)", actual=count, resp=resp)  # fmt: skip


INVALID_PAGING = {
    "negative-skip": {"skip": "-1"},
    "zero-limit": {"limit": "0"},
    "negative-limit": {"limit": "-5"},
    "text-skip": {"skip": "abc"},
    "fractional-limit": {"limit": "1.5"},
}


@pytest.mark.req("SE-FILE-040")
@pytest.mark.parametrize("case", list(INVALID_PAGING))
def test_invalid_paging_is_refused(api: SEClient, case: str) -> None:
    resp = api.get(FILES, params=INVALID_PAGING[case])
    expect_status(resp, (400, 422), req="SE-FILE-040", what=f"list with {INVALID_PAGING[case]}")
