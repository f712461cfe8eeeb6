"""Contract §6: the write-ahead log, one committed row per mutation, none for reads and rejections.

Every test mints tokens with a subject of its own, so WAL rows are matched to *its* requests by
``file_id`` or ``user_id`` even on the worker's shared SE.

Decision (catalogue, wal section): a 4xx writes no row at all, not even ``rolled_back``; a 5xx write
failure (507) leaves no row or only ``rolled_back`` rows with an ``error_message``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from harness.dbview import DbView
from harness.expect import arrange, expect, expect_equal, expect_json, expect_status, fail, passed
from harness.targets.base import Lifecycle
from harness.tokens import TokenFactory
from suites.support.data import new_uuid, payload
from suites.support.files import created_id, file_path, upload_ok
from suites.support.held_writes import Sender, hold_and_cut
from suites.support.inspect import (
    WAL_STATUSES,
    WAL_TYPES,
    expect_no_pending,
    files_mentioning,
    private_se,
    unique_sub,
    wal_rows_of,
    wal_summary,
)


class Callers:
    """Clients whose tokens carry subjects unique to one test."""

    def __init__(self, api: Any, tokens: TokenFactory, tag: str) -> None:
        self.user_sub, self.operator_sub, self.service_sub = (unique_sub(f"{tag}-{r}") for r in ("u", "o", "s"))
        self.user = api.with_token(tokens.mint(role="user", sub=self.user_sub))
        self.operator = api.with_token(tokens.mint(role="operator", sub=self.operator_sub))
        self.service = api.with_token(tokens.mint(role="admin", type="service_account", sub=self.service_sub))

    @property
    def subs(self) -> tuple[str, str, str]:
        return self.user_sub, self.operator_sub, self.service_sub


def _only_row(db: DbView, fid: str, op: str, req: str, *, subs: tuple[str, ...] = ()) -> dict[str, Any]:
    rows = [r for r in wal_rows_of(db, file_ids=[fid], subs=subs) if r.get("operation_type") == op]
    if len(rows) != 1 or rows[0].get("status") != "committed":
        fail(
            req,
            f"{db.table('wal')} rows of type {op} for {fid}",
            actual=wal_summary(rows),
            expected="exactly one row, status committed",
        )
    passed(req, f"one committed {op} row for {fid}")
    return rows[0]


def _check_committed(row: dict[str, Any], fid: str, sub: str) -> None:
    expect_equal(str(row.get("user_id")), sub, req="SE-WAL-005", what=f"user_id of the {row['operation_type']} row")
    started, completed = row.get("started_at"), row.get("completed_at")
    expect(
        row.get("file_id") is not None and str(row["file_id"]) == fid,
        req="SE-WAL-006",
        what="file_id of the committed row",
        actual=row.get("file_id"),
        expected=fid,
    )
    expect(
        isinstance(started, dt.datetime) and isinstance(completed, dt.datetime) and completed >= started,
        req="SE-WAL-006",
        what="started_at/completed_at of the committed row",
        actual=(str(started), str(completed)),
        expected="both set, completed_at >= started_at",
    )
    expect(
        not row.get("error_message"),
        req="SE-WAL-006",
        what="error_message of the committed row",
        actual=row.get("error_message"),
        expected="NULL or empty",
    )


def _check_duration(row: dict[str, Any]) -> None:
    started, completed, duration = row.get("started_at"), row.get("completed_at"), row.get("duration_ms")
    if not (isinstance(started, dt.datetime) and isinstance(completed, dt.datetime)):
        return
    span_ms = (completed - started).total_seconds() * 1000
    expect(
        isinstance(duration, int) and max(0.0, span_ms - 1000) <= duration <= span_ms + 1000,
        req="SE-WAL-016",
        what=f"duration_ms of the {row['operation_type']} row",
        actual=duration,
        expected=f"an integer >= 0 within 1 s of completed_at - started_at ({span_ms:.0f} ms)",
    )


def _no_pending(db: DbView, fids: list[str], subs: tuple[str, ...]) -> None:
    pending = [r for r in wal_rows_of(db, file_ids=fids, subs=subs) if r.get("status") == "pending"]
    expect(
        not pending,
        req="SE-WAL-013",
        what="pending WAL rows after the requests were answered",
        actual=wal_summary(pending),
        expected="none",
    )


@pytest.mark.req("SE-WAL-001", "SE-WAL-005", "SE-WAL-006", "SE-WAL-007", "SE-WAL-008", "SE-WAL-013", "SE-WAL-016")
def test_upload_writes_one_committed_create(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "create")
    content = payload(3000)
    resp = who.user.upload(content, filename="wal create.csv", content_type="text/csv", description="d")
    with arrange("a successful upload"):  # its status is SE-FILE-001's; this test judges its WAL row
        expect_status(resp, range(200, 300), req="SE-FILE-001", what="upload")
    fid = created_id(resp, req="SE-WAL-001")
    body = resp.json()
    row = _only_row(db, fid, "file_create", "SE-WAL-001", subs=who.subs)
    _check_committed(row, fid, who.user_sub)
    data = row.get("operation_data")
    if not isinstance(data, dict):
        fail("SE-WAL-007", "operation_data of the file_create row", actual=data, expected="a JSON object")
    assert isinstance(data, dict)
    # Compared with the file's row, which SE-DB-017 ties to the API: how the API renders a field is that
    # rule's business, what the WAL logged is this one's.
    files_row = db.file_row(fid)
    with arrange(f"the file's {db.table('files')} row"):
        expect(files_row is not None, req="SE-DB-017", what="row of the uploaded file", expected="one row")
    assert files_row is not None
    for name in ("original_filename", "storage_filename", "storage_path", "content_type"):
        expect_equal(data.get(name), files_row.get(name), req="SE-WAL-007", what=f"operation_data.{name} vs the row")
    rel = data.get("relative_path")
    expect(
        isinstance(rel, str) and rel,
        req="SE-WAL-007",
        what="operation_data.relative_path",
        actual=rel,
        expected="a non-empty string",
    )
    result = data.get("result")
    wanted = {k: body.get(k) for k in ("file_id", "checksum", "file_size")}
    got = {k: result.get(k) for k in wanted} if isinstance(result, dict) else result
    expect_equal(got, wanted, req="SE-WAL-008", what="operation_data.result vs the 201 response", resp=resp)
    _check_duration(row)
    _no_pending(db, [fid], who.subs)


@pytest.mark.req("SE-WAL-002", "SE-WAL-005", "SE-WAL-006", "SE-WAL-013")
def test_patch_writes_one_committed_update(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "update")
    fid = upload_ok(who.user, b"patch me", filename="p.txt", content_type="text/plain").file_id
    patcher_sub = unique_sub("patcher")
    patcher = api.with_token(tokens.mint(role="user", sub=patcher_sub))
    resp = patcher.patch(f"/api/v1/files/{fid}", json={"description": "patched", "custom_attributes": {"a": 1}})
    expect_status(resp, 200, req="SE-WAL-002", what="PATCH")
    row = _only_row(db, fid, "file_update", "SE-WAL-002", subs=(*who.subs, patcher_sub))
    _check_committed(row, fid, patcher_sub)
    _no_pending(db, [fid], (*who.subs, patcher_sub))


@pytest.mark.req("SE-WAL-003", "SE-WAL-005", "SE-WAL-006", "SE-WAL-013", "SE-WAL-017")
def test_delete_writes_one_committed_delete(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "delete")
    fid = upload_ok(who.user, b"delete me", filename="d.txt", content_type="text/plain").file_id
    expect_status(
        who.user.patch(f"/api/v1/files/{fid}", json={"version": "2"}),
        200,
        req="SE-WAL-017",
        what="PATCH (arrangement)",
    )
    resp = who.operator.delete(f"/api/v1/files/{fid}")
    expect_status(resp, 204, req="SE-WAL-003", what="DELETE by an operator")
    row = _only_row(db, fid, "file_delete", "SE-WAL-003", subs=who.subs)
    _check_committed(row, fid, who.operator_sub)
    rows = wal_rows_of(db, file_ids=[fid], subs=who.subs)
    expect_equal(
        [r.get("operation_type") for r in rows],
        list(WAL_TYPES),
        req="SE-WAL-017",
        what="WAL rows of the file, by started_at",
    )
    _no_pending(db, [fid], who.subs)


@pytest.mark.req("SE-WAL-004", "SE-WAL-005", "SE-WAL-006", "SE-WAL-012", "SE-WAL-013")
def test_gc_delete_writes_one_committed_delete(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "gc")
    fid = upload_ok(who.user, b"collect me", filename="g.txt", content_type="text/plain").file_id
    resp = who.service.delete(f"/api/v1/gc/{fid}", json={"reason": "conformance"})
    # The GC delete is the act whose row this rule reads; its answer's vocabulary is SE-GC-001's.
    with arrange("GC delete of a stored file"):
        expect_status(resp, 200, req="SE-GC-001", what="GC delete")
    row = _only_row(db, fid, "file_delete", "SE-WAL-004", subs=who.subs)
    _check_committed(row, fid, who.service_sub)
    before = wal_rows_of(db, file_ids=[fid], subs=who.subs)
    again = who.service.delete(f"/api/v1/gc/{fid}", json={"reason": "again"})
    # This rule is about an id the SE no longer holds: the second delete must be the no-op SE-GC-004
    # describes (200 already_deleted; 404 tolerated as SE-GC-006's). An SE that answers "deleted" again
    # still held the file in its own view - SE-GC-004's failure - and a row for that is no false row.
    with arrange("a second GC delete the SE treats as a no-op"):
        expect_status(again, (200, 404), req="SE-GC-004", what="second GC delete")
        second = expect_json(again, req="SE-GC-004") if again.status_code == 200 else {"status": "already_deleted"}
        expect_equal(second.get("status") if isinstance(second, dict) else second, "already_deleted",
                     req="SE-GC-004", what="second GC status", resp=again)  # fmt: skip
    after = wal_rows_of(db, file_ids=[fid], subs=who.subs)
    expect_equal(
        wal_summary(after),
        wal_summary(before),
        req="SE-WAL-012",
        what="WAL rows after GC of an already deleted id",
        resp=again,
    )
    _no_pending(db, [fid], who.subs)


@pytest.mark.req("SE-WAL-012")
def test_gc_of_unknown_id_writes_no_row(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "gcunknown")
    fid = new_uuid()
    count = db.wal_count()
    resp = who.service.delete(f"/api/v1/gc/{fid}", json={"reason": "never stored"})
    # SE-GC-006 allows 200 already_deleted or 404 for an id the SE does not hold; which one is SE-GC-007's
    # (SHOULD) business, not the WAL's.
    with arrange("GC delete of an id never stored"):  # its answer is SE-GC-006's to judge
        expect_status(resp, (200, 404), req="SE-GC-006", what="GC delete of an id never stored")
    rows = wal_rows_of(db, file_ids=[fid], subs=who.subs)
    expect(
        not rows and db.wal_count() == count,
        req="SE-WAL-012",
        what="WAL rows after GC of an unknown id",
        resp=resp,
        actual=wal_summary(rows) or f"{db.wal_count() - count} new row(s)",
        expected="none",
    )


@pytest.mark.req("SE-WAL-010")
def test_reads_write_no_row(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "reads")
    fid = upload_ok(who.user, b"read me", filename="r.txt", content_type="text/plain").file_id
    before = db.wal_count()
    reads = [
        who.user.get(f"/api/v1/files/{fid}"),
        who.user.get(f"/api/v1/files/{fid}/download"),
        who.user.get("/api/v1/files", params={"limit": 5}),
        who.service.get(f"/api/v1/gc/{fid}/exists"),
        who.service.get("/api/v1/cache/consistency"),
    ]
    # Whatever a read answered (even a 503 of a broken cache endpoint), it is a read: no row.
    answered = [f"{r.request.method} {r.request.url.path} → {r.status_code}" for r in reads]
    new = db.wal_count() - before
    rows = [r for r in wal_rows_of(db, file_ids=[fid], subs=who.subs) if r.get("operation_type") != "file_create"]
    expect(
        new == 0 and not rows,
        req="SE-WAL-010",
        what="WAL rows written by reads",
        actual={"new rows in the table": new, "rows of this file/callers": wal_summary(rows), "reads": answered},
        expected="none",
    )


@pytest.mark.req("SE-WAL-011")
def test_rejected_requests_write_no_row(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "rejected")
    stored = new_uuid()
    upload_ok(
        who.user,
        b"already here",
        filename="dup.txt",
        content_type="text/plain",
        file_id=stored,
    )
    unknown = new_uuid()
    anon = api.anonymous()
    cases = [
        (
            "upload with a malformed file_id",
            lambda: who.user.upload(b"x", filename="bad.txt", file_id="not-a-uuid"),
        ),
        (
            "upload of a stored file_id (409)",
            lambda: who.user.upload(b"y", filename="dup.txt", file_id=stored),
        ),
        ("upload without a token", lambda: anon.upload(b"z", filename="anon.txt", file_id=new_uuid())),
        ("PATCH without a token", lambda: anon.patch(f"/api/v1/files/{stored}", json={"description": "no"})),
        (
            "PATCH of an unknown id",
            lambda: who.user.patch(f"/api/v1/files/{unknown}", json={"description": "u"}),
        ),
        (
            "PATCH with an invalid body",
            lambda: who.user.patch(f"/api/v1/files/{stored}", json={"version": ["x"]}),
        ),
        ("DELETE by a user", lambda: who.user.delete(f"/api/v1/files/{stored}")),
        ("DELETE of an unknown id", lambda: who.operator.delete(f"/api/v1/files/{unknown}")),
    ]
    offenders = []
    checked = 0
    for label, send in cases:
        before = db.wal_count()
        resp = send()
        if not 400 <= resp.status_code < 500:
            continue  # not a rejection: other requirements judge the status; the WAL rule does not apply
        checked += 1
        new = db.wal_count() - before
        if new:
            rows = [
                r
                for r in wal_rows_of(db, file_ids=[stored, unknown], subs=who.subs)
                if r.get("operation_type") != "file_create" or r.get("status") != "committed"
            ]
            offenders.append(f"{label} → {resp.status_code}: {new} new row(s) {wal_summary(rows)}")
    expect(checked > 0, req="SE-WAL-011", what="requests answered 4xx", actual=0, expected="at least one")
    expect(
        not offenders,
        req="SE-WAL-011",
        what="WAL rows written by rejected requests",
        actual=offenders,
        expected="no row for any 4xx answer (not even rolled_back)",
    )


@pytest.mark.req("SE-WAL-009")
def test_operation_types_and_statuses(db: DbView, api: Any, tokens: TokenFactory) -> None:
    who = Callers(api, tokens, "vocab")
    fid = upload_ok(who.user, b"vocabulary", filename="v.txt", content_type="text/plain").file_id
    expect_status(who.user.patch(f"/api/v1/files/{fid}", json={"description": "v"}), 200, req="SE-WAL-009")
    expect_status(who.operator.delete(f"/api/v1/files/{fid}"), 204, req="SE-WAL-009")
    rows = db.wal_rows()
    bad = [r for r in rows if r.get("operation_type") not in WAL_TYPES or r.get("status") not in WAL_STATUSES]
    expect(
        rows and not bad,
        req="SE-WAL-009",
        what=f"operation_type/status values in {db.table('wal')}",
        actual=wal_summary(bad[:10]) or "no rows",
        expected=f"types {WAL_TYPES}, statuses {WAL_STATUSES}",
    )


def _expect_rolled_back(
    view: DbView,
    client: Any,
    storage: Any,
    resp: Any,
    fid: str,
    sub: str,
    *,
    allowed: frozenset[str] = frozenset(),
    rejected: bool = True,
) -> None:
    """Contract §6 after a failed upload of ``fid`` on an SE of the test's own. ``rejected``: a 4xx
    answer counts as a rejection (no row at all); otherwise the request is known to have failed inside
    the SE, whatever its status."""
    rows = wal_rows_of(view, file_ids=[fid], subs=[sub])
    if rejected and resp.status_code < 500:
        expect(
            not rows,
            req="SE-WAL-011",
            what=f"WAL rows of an upload rejected {resp.status_code}",
            resp=resp,
            actual=wal_summary(rows),
            expected="no row (a 4xx writes none)",
        )
    bad = [r for r in rows if r.get("status") != "rolled_back" or not r.get("error_message")]
    expect(
        not bad,
        req="SE-WAL-014",
        what="WAL rows of a failed upload",
        resp=resp,
        actual=wal_summary(bad),
        expected="no row, or rolled_back rows with an error_message",
    )
    expect_no_pending(view, req="SE-WAL-013", what="pending rows after the failed upload was answered")
    expect_status(client.get(f"/api/v1/files/{fid}"), 404, req="SE-WAL-015", what="metadata of the failed upload")
    expect(
        view.file_row(fid) is None,
        req="SE-WAL-015",
        what="p_files row of the failed upload",
        actual=view.file_row(fid),
        expected="none",
    )
    if storage is not None:
        # An SE whose only writes failed: anything below a date directory (but the test's own blockers),
        # any temp file or anything named after the file_id is a leftover.
        left = [rel for rel in storage.list_files() if ("/" in rel or ".tmp" in rel) and rel not in allowed]
        left += [rel for rel in files_mentioning(storage, fid) if rel not in left]
        expect(
            not left,
            req="SE-WAL-015",
            what="files left in the storage path by the failed upload",
            resp=resp,
            actual=left,
            expected="none",
        )


@pytest.mark.needs("db")
@pytest.mark.req("SE-WAL-014", "SE-WAL-015", "SE-WAL-013", "SE-WAL-011", "SE-WAL-018")
def test_failed_uploads_roll_back(spawn_se: Any, client_for: Any, tokens: TokenFactory) -> None:
    """Two failures on an SE of the test's own: an upload over STORAGE_MAX_SIZE (507), and an upload
    whose hour directory is blocked by a regular file planted at its path (the SE has accepted the
    request and fails while storing it)."""
    small = spawn_se(capacity=64 * 1024)
    sub = unique_sub("failure")
    client = client_for(small, tokens.mint(role="user", sub=sub))
    view = DbView(small.database, small.prefix)
    inspected = []
    blocked = None
    try:
        fid = new_uuid()
        resp = client.upload(payload(200 * 1024), filename="too-big.bin", file_id=fid)
        if resp.status_code >= 400:
            _expect_rolled_back(view, client, small.storage, resp, fid, sub)
            inspected.append(f"over capacity → {resp.status_code}")
        now = dt.datetime.now(dt.UTC)
        blockers = frozenset(t.strftime("%Y/%m/%d/%H") for t in (now, now + dt.timedelta(hours=1)))
        # An hour directory that already exists (the refused upload may have made it) cannot be blocked.
        if small.storage is not None and not any(small.storage.exists(rel) for rel in blockers):
            for rel in blockers:
                small.storage.write_bytes(rel, b"a regular file where the hour directory belongs")
            fid = new_uuid()
            resp = client.upload(payload(1024), filename="blocked.bin", file_id=fid)
            if resp.status_code >= 400:
                # A failure inside the SE, whatever status it chose: judged as a failure (SE-WAL-014).
                _expect_rolled_back(view, client, small.storage, resp, fid, sub, allowed=blockers, rejected=False)
                inspected.append(f"hour directory blocked → {resp.status_code}")
                blocked = resp
            for rel in blockers:
                small.storage.remove(rel)
    finally:
        view.close()
    if not inspected:
        pytest.skip("inconclusive: neither provoked upload failed; no failure to inspect")
    if blocked is not None:  # the SHOULD last, so it never hides a MUST verdict
        expect(
            blocked.status_code >= 500,
            req="SE-WAL-018",
            what="upload whose hour directory is occupied by a regular file",
            resp=blocked,
            expected="a 5xx (the SE failed to store), not a 4xx blaming the client",
        )


HELD_S = 2.5  # how long the PATCH of the test below waits for its locked table


@pytest.mark.needs("db", "fs")
@pytest.mark.req("SE-WAL-016")
def test_duration_ms_of_a_write_that_waited(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    # Every write of the other tests takes milliseconds, where a duration_ms that is not the row's
    # duration (seconds instead of milliseconds, say) is still "about right". A PATCH held on its SE's
    # locked files table (after its pending row, before its change: suites/support/held_writes.py) takes
    # seconds.
    pg, handle, _, view = private_se(lifecycle, spawn_se)
    try:
        user = client_for(handle, tokens.user)
        stored = upload_ok(user, payload(1024), filename="held.bin")
        sender = Sender()
        patch = {"PATCH": lambda: user.patch(file_path(stored.file_id), json={"description": "held"})}
        hold_and_cut(pg, view, sender, patch, lambda _holder: time.sleep(HELD_S), f"held for {HELD_S:g} s")
        with arrange(f"a PATCH held {HELD_S:g} s on its locked table succeeds once released"):
            resp = sender.answers.get("PATCH")
            expect(resp is not None and resp.status_code == 200, req="SE-FILE-028", what="the held PATCH",
                   expected="200", actual=None if resp is None else resp.status_code)  # fmt: skip
        with arrange("the held PATCH's committed file_update row"):  # one such row is SE-WAL-002's rule
            row = _only_row(view, stored.file_id, "file_update", "SE-WAL-002")
        _check_duration(row)
    finally:
        view.close()
