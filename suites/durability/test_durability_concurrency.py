"""A bounded concurrent burst, 8 clients: 40 uploads; then PATCHes, DELETEs, GC deletes and 10 more
uploads all at once; then contention on single files (4 PATCHes released together by a barrier, and a
PATCH released together with a DELETE). Afterwards nothing is lost and table, sidecars and WAL agree.
"""

from __future__ import annotations

import queue
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.dbview import DbView
from harness.expect import arrange, expect, expect_equal, expect_json, fail
from harness.storage_view import StorageView
from harness.tokens import TokenFactory
from suites.support.data import new_uuid, payload, reported_checksum, sha256_hex
from suites.support.files import CHOSEN_ID_REQUIREMENT, get_meta, plain_upload_works
from suites.support.inspect import (
    SIDECAR_SUFFIX,
    expected_data_path,
    read_sidecar,
    same_value,
    stray_files,
    wal_rows_of,
    wal_summary,
)

THREADS = 8
FIRST_UPLOADS = 40
LATE_UPLOADS = 10
SINGLE_PATCH = range(0, 15)
RACE_PATCH = range(15, 20)  # 4 PATCHes each, released together
RACE_WIDTH = 4
PATCH_VS_DELETE = range(33, 36)  # a PATCH and a DELETE, released together
DELETED = range(20, 30)
GC_DELETED = range(30, 33)


@dataclass
class Outcome:
    label: str
    fid: str
    status: int | None
    error: str | None = None
    returned_id: str | None = None  # the file_id an upload's answer names
    reported: dict[str, Any] | None = None  # an upload's answer


@dataclass
class Ledger:
    content: dict[str, bytes] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)


class Pool:
    """8 clients handed to the worker threads one at a time."""

    def __init__(self, clients: list[SEClient]) -> None:
        self._free: queue.Queue[SEClient] = queue.Queue()
        for client in clients:
            self._free.put(client)

    def call(self, label: str, fid: str, send: Send) -> Outcome:
        client = self._free.get()
        try:
            resp = send(client)
            body = _body(resp) if label == "upload" else None
            returned = str(body["file_id"]) if body and body.get("file_id") else None
            return Outcome(label, fid, resp.status_code, returned_id=returned, reported=body)
        except httpx.HTTPError as exc:
            return Outcome(label, fid, None, f"{type(exc).__name__}: {exc}")
        finally:
            self._free.put(client)


def _upload(ledger: Ledger, fid: str, index: int) -> Send:
    content = payload(1024 + 997 * index)
    ledger.content[fid] = content
    return lambda c: c.upload(content, filename=f"burst-{index}.bin", file_id=fid, description=f"up-{index}")


Send = Callable[[SEClient], httpx.Response]


def _body(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _patch(fid: str, body: dict[str, Any]) -> Send:
    return lambda c: c.patch(f"/api/v1/files/{fid}", json=body)


def _delete(fid: str, token: str) -> Send:
    return lambda c: c.with_token(token).delete(f"/api/v1/files/{fid}")


def _gc(fid: str, token: str) -> Send:
    return lambda c: c.with_token(token).delete(f"/api/v1/gc/{fid}")


AGREEING_FIELDS = ("description", "version", "checksum", "file_size", "storage_filename", "updated_at")


def _field_disagreements(
    meta: dict[str, Any], row: dict[str, Any], storage: StorageView, files: list[str]
) -> dict[str, Any]:
    """The fields in which a file's API metadata, its row and its sidecar (at its contract path) disagree."""
    rel = expected_data_path(meta) + SIDECAR_SUFFIX
    _, doc = read_sidecar(storage, rel) if rel in files else (b"", None)
    side = doc if isinstance(doc, dict) else {}
    found: dict[str, Any] = {}
    if rel not in files or rel.removesuffix(SIDECAR_SUFFIX) not in files:
        found["data file or sidecar"] = f"missing at {rel.removesuffix(SIDECAR_SUFFIX)}"
    elif not isinstance(doc, dict):
        found["sidecar"] = f"{rel} is not a JSON object"
    for name in AGREEING_FIELDS:
        values = {"api": meta.get(name), "row": row.get(name), "sidecar": side.get(name)}
        with_sidecar = not isinstance(doc, dict) or same_value(name, values["api"], values["sidecar"])
        if not (same_value(name, values["api"], values["row"]) and with_sidecar):  # no sidecar: said once, above
            found[name] = values
    if isinstance(doc, dict) and side.get("custom_attributes") != meta.get("custom_attributes"):
        found["custom_attributes"] = {"api": meta.get("custom_attributes"), "sidecar": side.get("custom_attributes")}
    return found


@pytest.mark.needs("db", "fs")
@pytest.mark.req("SE-DUR-011", "SE-DUR-012")
def test_concurrent_writes_lose_nothing_and_agree(spawn_se: Any, client_for: Any, tokens: TokenFactory) -> None:
    handle = spawn_se()
    sub = {"user": f"burst-user-{new_uuid()[:8]}", "op": f"burst-op-{new_uuid()[:8]}"}
    user_token = tokens.mint(role="user", sub=sub["user"])
    op_token = tokens.mint(role="operator", sub=sub["op"])
    service_token = tokens.mint(role="admin", type="service_account", sub=f"burst-sa-{new_uuid()[:8]}")
    pool = Pool([client_for(handle, user_token) for _ in range(THREADS)])
    ledger = Ledger()
    ids = [new_uuid() for _ in range(FIRST_UPLOADS + LATE_UPLOADS)]

    with ThreadPoolExecutor(THREADS) as executor:
        first = [executor.submit(pool.call, "upload", ids[i], _upload(ledger, ids[i], i)) for i in range(FIRST_UPLOADS)]
        ledger.outcomes += [f.result() for f in first]
        tasks: list[tuple[str, str, Send]] = []
        patch_sent: dict[str, list[dict[str, Any]]] = {}
        for i in SINGLE_PATCH:
            body = {"description": f"patched-{i}", "version": f"v{i}", "custom_attributes": {"i": i}}
            patch_sent[ids[i]] = [body]
            tasks.append(("PATCH", ids[i], _patch(ids[i], body)))
        for i in DELETED:
            tasks.append(("DELETE", ids[i], _delete(ids[i], op_token)))
        for i in GC_DELETED:
            tasks.append(("GC", ids[i], _gc(ids[i], service_token)))
        for i in range(FIRST_UPLOADS, FIRST_UPLOADS + LATE_UPLOADS):
            tasks.append(("upload", ids[i], _upload(ledger, ids[i], i)))
        random.Random(4).shuffle(tasks)
        second = [executor.submit(pool.call, label, fid, send) for label, fid, send in tasks]
        ledger.outcomes += [f.result() for f in second]

    # Contention on single files, one group at a time, its members released together.
    groups: list[list[tuple[str, str, Send]]] = []
    for i in RACE_PATCH:
        bodies = [
            {"description": f"race-{k}", "version": f"r{k}", "custom_attributes": {"k": k}} for k in range(RACE_WIDTH)
        ]
        patch_sent[ids[i]] = bodies
        groups.append([("PATCH", ids[i], _patch(ids[i], b)) for b in bodies])
    for i in PATCH_VS_DELETE:
        body = {"description": f"doomed-{i}"}
        patch_sent[ids[i]] = [body]
        groups.append(
            [
                ("PATCH", ids[i], _patch(ids[i], body)),
                ("DELETE", ids[i], _delete(ids[i], op_token)),
            ]
        )
    for group in groups:
        barrier = threading.Barrier(len(group), timeout=10)

        def together(send: Send, barrier: threading.Barrier = barrier) -> Send:
            def go(client: SEClient) -> httpx.Response:
                barrier.wait()
                return send(client)

            return go

        with ThreadPoolExecutor(len(group)) as executor:
            racing = [executor.submit(pool.call, label, fid, together(send)) for label, fid, send in group]
            ledger.outcomes += [f.result() for f in racing]

    # The WAL as the burst left it, read before the checks below read the files back: whether an SE also
    # logs reads is SE-WAL-010's business, not this burst's.
    snapshot = DbView(handle.database, handle.prefix)
    try:
        wal = wal_rows_of(snapshot, file_ids=ids)
    finally:
        snapshot.close()

    # The burst tracks files by the ids it chose: an SE that replaces them (SE-FILE-007) cannot be judged.
    moved = [f"{o.fid} → {o.returned_id}" for o in ledger.outcomes if o.returned_id not in (None, o.fid)]
    with arrange("the burst's uploads keep their caller-chosen file_ids"):
        expect(not moved, req=CHOSEN_ID_REQUIREMENT, what="file_id of the burst's uploads", expected="the chosen ids",
               actual=moved[:5])  # fmt: skip

    # -- SE-DUR-011: no 5xx, nothing lost ------------------------------------------------------
    errors = [o for o in ledger.outcomes if o.status is None or o.status >= 500]
    if errors:  # a burst judges concurrency: an SE that cannot store one file alone fails SE-FILE-001
        plain_upload_works(client_for(handle, user_token))
    expect(
        not errors,
        req="SE-DUR-011",
        what="server errors or dropped connections in the burst",
        actual=[f"{o.label} {o.fid}: {o.status or o.error}" for o in errors[:10]],
        expected="none",
    )
    uploads_ok = {
        o.fid for o in ledger.outcomes if o.label == "upload" and o.status is not None and 200 <= o.status < 300
    }
    deleted = {o.fid for o in ledger.outcomes if (o.label, o.status) in (("DELETE", 204), ("GC", 200))}
    alive = uploads_ok - deleted
    patches_ok = Counter(o.fid for o in ledger.outcomes if o.label == "PATCH" and o.status == 200)
    expect(
        uploads_ok == set(ids),
        req="SE-DUR-011",
        what="uploads answered 201",
        actual=[f"{o.fid}: {o.status}" for o in ledger.outcomes if o.label == "upload" and o.status != 201],
        expected=f"all {len(ids)}",
    )
    # A write on a file that no other request touches at the same time has no excuse to be refused: a 4xx
    # there would be a write lost as surely as a 5xx (contended groups are judged by their outcome below).
    refused = [
        f"{o.label} {o.fid}: {o.status}"
        for o in ledger.outcomes[: FIRST_UPLOADS + len(tasks)]
        if not (o.status is not None and 200 <= o.status < 300)
        or (o.label != "upload" and o.status != {"PATCH": 200, "DELETE": 204, "GC": 200}[o.label])
    ]
    expect(
        not refused,
        req="SE-DUR-011",
        what="uncontended writes of the burst that were not acknowledged",
        actual=refused[:10],
        expected="201 for uploads, 200 for PATCH and GC delete, 204 for DELETE",
    )
    reader = client_for(handle, user_token)
    upload_answers = {o.fid: o.reported for o in ledger.outcomes if o.label == "upload" and o.reported}
    api_meta: dict[str, dict[str, Any]] = {}
    lost = []
    for fid in sorted(alive):
        resp = reader.get(f"/api/v1/files/{fid}")
        download = reader.get(f"/api/v1/files/{fid}/download")
        stored = reported_checksum(upload_answers.get(fid), ledger.content[fid])
        if resp.status_code != 200 or download.status_code != 200 or sha256_hex(download.content) != stored:
            lost.append(f"{fid}: metadata {resp.status_code}, download {download.status_code}")
            continue
        meta = expect_json(resp, req="SE-DUR-011")
        if not isinstance(meta, dict):
            lost.append(f"{fid}: metadata is not a JSON object")
            continue
        api_meta[fid] = meta
        sent = patch_sent.get(fid, [])
        if patches_ok[fid]:
            # description and version, stored as sent; how custom_attributes merge is SE-FILE-031's to judge
            plain = [{k: v for k, v in body.items() if k in ("description", "version")} for body in sent]
            candidates = [{k: meta.get(k) for k in body} for body in plain]
            if not any(cand == body for cand, body in zip(candidates, plain, strict=True)):
                lost.append(f"{fid}: after PATCH {[meta.get(k) for k in sent[0]]}, sent {sent}")
    for fid in sorted(deleted):
        status = reader.get(f"/api/v1/files/{fid}").status_code
        if status != 404:
            lost.append(f"{fid}: deleted but metadata answers {status}")
    expect(not lost, req="SE-DUR-011", what="files after the burst", actual=lost[:10], expected="as acknowledged")

    # -- SE-DUR-012: table, sidecars and WAL agree ---------------------------------------------
    req = "SE-DUR-012"
    view = DbView(handle.database, handle.prefix)
    try:
        rows = {str(r["file_id"]): r for r in view.query(f'SELECT * FROM "{view.table("files")}"')}
        expect_equal(sorted(rows), sorted(alive), req=req, what=f"file_ids in {view.table('files')}")
        storage = handle.storage
        assert storage is not None
        files = storage.list_files()
        sidecars = sorted(p for p in files if p.endswith(SIDECAR_SUFFIX))
        disagree: list[str] = []
        alone: dict[str, Any] = {}
        known_ids = list(ids)  # the burst's files, and the control file if one is stored below
        found = {fid: _field_disagreements(meta, rows.get(fid, {}), storage, files) for fid, meta in api_meta.items()}
        if any(found.values()):
            # A field in which API, row and sidecar disagree for a file stored alone, too, is the store's
            # rules' finding (SE-DB-017/018, SE-SIDECAR-007), not a consequence of concurrency; so are
            # files not at the contract's paths (SE-SIDECAR-001/002).
            client = client_for(handle, user_token)
            control = get_meta(client, plain_upload_works(client))
            known_ids.append(str(control["file_id"]))
            control_row = view.file_row(str(control["file_id"])) or {}
            alone = _field_disagreements(control, control_row, storage, storage.list_files())
            disagree += [f"{fid} {name}: {values}" for fid, fields in found.items() for name, values in fields.items()
                         if name not in alone]  # fmt: skip
        for fid, meta in api_meta.items():
            rel = expected_data_path(meta)
            if rel in files and sha256_hex(storage.read_bytes(rel)) != meta.get("checksum"):
                disagree.append(f"{fid}: data file bytes differ from checksum")
        expect(not disagree, req=req, what="API vs row vs sidecar", actual=disagree[:10], expected="equal")
        expect_equal(len(sidecars), len(alive), req=req, what="sidecars in the storage path")
        expect_equal(stray_files(storage, ids=known_ids), [], req=req, what="temporary files after the burst")

        pending = [r for r in wal if r.get("status") == "pending"]
        expect(
            not pending, req=req, what="pending WAL rows after the burst", actual=wal_summary(pending), expected="none"
        )
        # Counted per file, whatever the rows' operation types are called: their names are SE-WAL-002/003/
        # 004's to judge; one committed row per acknowledged write is this rule's.
        committed = Counter(str(r["file_id"]) for r in wal if r.get("status") == "committed")
        wrong = []
        for fid in ids:
            want = (1 if fid in uploads_ok else 0) + patches_ok[fid] + (1 if fid in deleted else 0)
            if committed[fid] != want:
                wrong.append(f"{fid}: {committed[fid]} committed rows, {want} acknowledged writes")
        expect(
            not wrong,
            req=req,
            what="committed WAL rows per file",
            actual=wrong[:10],
            expected="one per acknowledged write",
        )
    finally:
        view.close()
    if not alive:
        fail(req, "nothing survived the burst", expected="files", actual=None)
