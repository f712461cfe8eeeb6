"""The operation matrix of contract §4 in all four modes, on one SE restarted into each mode.

The ``mode`` fixture is module-scoped and parametrized, so pytest runs all tests of one mode together and
the station restarts only when the mode changes (edit → rw → ro → ar). What was stored in edit mode
before the restarts must still be served in every mode (contract §1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from harness.client import SEClient, transport_fault
from harness.expect import Blocked, arrange, expect, expect_equal, expect_json, expect_status
from harness.targets.base import SEHandle, Target
from harness.tokens import TokenFactory
from suites.support.data import parse_ts, payload, unique_name
from suites.support.files import (
    CACHE,
    Stored,
    download_path,
    expect_gone,
    expect_present,
    file_path,
    gc_exists_path,
    gc_path,
    get_meta,
    newest_ids,
    total,
    upload_ok,
)
from suites.support.roles import token_for
from suites.support.service import expect_mode_reported, expected_info_status, get_object
from suites.support.ses import MODES, ModeStation

# Under --dist load every worker that receives a test of this module builds its own station (correct, but
# up to twice the restarts); --dist loadscope keeps the module on one worker. (xdist's loadgroup does not
# regroup items under pytest 9, which moved Node._nodeid.)
pytestmark = pytest.mark.needs("lifecycle")

WRITABLE = ("edit", "rw")
TIMESTAMPS = ("created_at", "updated_at")
KEPT = ("file_id", "original_filename", "storage_filename", "file_size", "content_type", "created_by_username",
        "description", "version", "storage_path", "checksum", "custom_attributes")  # fmt: skip


@pytest.fixture(scope="module")
def station(se_target: Target, tokens: TokenFactory) -> Iterator[ModeStation]:
    st = ModeStation(se_target, tokens)
    yield st
    st.close()


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def in_mode(station: ModeStation, mode: str) -> SEHandle:
    return station.enter(mode)


@pytest.fixture
def as_role(
    station: ModeStation, in_mode: SEHandle, mode: str, client_for: Callable[..., SEClient], tokens: TokenFactory
) -> Callable[[str], SEClient]:
    """``as_role("user" | "operator" | "admin" | "service" | "anonymous")``: a client on the station's SE
    as it is now (``station.take()`` may have restarted it to refill its pool: take first, then ask)."""

    def make(role: str) -> SEClient:
        return client_for(station.enter(mode), token_for(tokens, role))

    return make


def survivor_of(station: ModeStation) -> Stored:
    if station.survivor is None:  # the station could not store it: nothing to read back
        raise Blocked("store a file in edit mode before the restarts", covered_by="SE-FILE-001")
    return station.survivor


def stored_before_restart(api: SEClient, stored: Stored, mode: str) -> None:
    """A file stored in edit is still there in ``mode``: the precondition of the checks that follow. A
    file lost by the restart is SE-MODE-003's failure (its own test judges it), not theirs."""
    # Its metadata only: whether downloads work in this mode is SE-MODE-008's, judged on its own.
    resp = api.get(file_path(stored.file_id))
    with arrange(f"a file stored in edit mode, read in {mode}"):
        expect_status(resp, 200, req="SE-MODE-003", what=f"metadata of the file stored in edit, now in {mode}")


@pytest.mark.req("SE-SVC-015", "SE-SVC-008")
def test_mode_reported(as_role: Callable[[str], SEClient], mode: str) -> None:
    client = as_role("anonymous")
    expect_mode_reported(client, mode)
    info, resp = get_object(client, "/api/v1/info", req="SE-SVC-008")
    expect_equal(info.get("status"), expected_info_status(mode), req="SE-SVC-008", what=f"info status in {mode}",
                 resp=resp)  # fmt: skip


@pytest.mark.req("SE-MODE-003")
def test_data_stored_before_restart_survives(
    station: ModeStation, client_for: Callable[..., SEClient], tokens: TokenFactory, mode: str
) -> None:
    # Entering the mode is this test's act: an SE that does not come back in it fails SE-MODE-003 here
    # (the other tests of the mode get it from a fixture, as a preparation, and are blocked).
    api = client_for(station.enter(mode), tokens.user)
    survivor = survivor_of(station)
    meta = expect_present(api, survivor, req="SE-MODE-003", what=f"the file stored in edit, now in {mode}")
    for name in KEPT:
        expect_equal(meta.get(name), station.survivor_meta.get(name), req="SE-MODE-003", what=f"metadata {name}")
    for name in TIMESTAMPS:
        expect_equal(parse_ts(meta.get(name)), parse_ts(station.survivor_meta.get(name)), req="SE-MODE-003",
                     what=f"metadata {name}")  # fmt: skip
    expect(survivor.file_id in newest_ids(api, req="SE-MODE-003"), req="SE-MODE-003", what="the list",
           expected=f"{survivor.file_id} listed", actual="absent")  # fmt: skip


@pytest.mark.req("SE-MODE-008")
def test_reads_work(station: ModeStation, as_role: Callable[[str], SEClient], mode: str) -> None:
    api = as_role("user")
    file_id = survivor_of(station).file_id
    meta = api.get(file_path(file_id))
    if meta.status_code == 404:  # gone since the restart: SE-MODE-003's failure, no verdict on reads here
        stored_before_restart(api, survivor_of(station), mode)
    expect_status(meta, 200, req="SE-MODE-008", what=f"metadata in {mode}")
    expect_status(api.get("/api/v1/files", params={"limit": 10}), 200, req="SE-MODE-008", what=f"list in {mode}")
    expect_status(api.get(download_path(file_id)), 200, req="SE-MODE-008", what=f"download in {mode}")


@pytest.mark.req("SE-MODE-004", "SE-MODE-005")
def test_upload(as_role: Callable[[str], SEClient], mode: str) -> None:
    api = as_role("user")
    if mode in WRITABLE:
        stored = upload_ok(api, payload(100), req="SE-MODE-004")
        expect_present(api, stored, req="SE-MODE-004", what=f"the file uploaded in {mode}")
        return
    before = total(api, req="SE-MODE-005")
    for role in ("user", "admin"):
        resp = as_role(role).upload(payload(100), filename=unique_name(f"in-{mode}"))
        expect_status(resp, 400, req="SE-MODE-005", what=f"upload by {role} in {mode}")
    expect_equal(total(api, req="SE-MODE-005"), before, req="SE-MODE-005", what=f"list total after refusals in {mode}")


@pytest.mark.req("SE-MODE-004", "SE-MODE-005")
def test_patch(station: ModeStation, as_role: Callable[[str], SEClient], mode: str) -> None:
    api = as_role("user")
    if mode in WRITABLE:
        stored = upload_ok(api, req="SE-MODE-004")
        resp = api.patch(file_path(stored.file_id), json={"description": f"patched in {mode}"})
        expect_status(resp, 200, req="SE-MODE-004", what=f"PATCH in {mode}")
        expect_equal(get_meta(api, stored.file_id).get("description"), f"patched in {mode}",
                     req="SE-MODE-004", what="description after the PATCH")  # fmt: skip
        return
    victim = station.take()
    api = as_role("user")
    stored_before_restart(api, victim, mode)
    before = get_meta(api, victim.file_id)
    for role in ("user", "admin"):
        resp = as_role(role).patch(file_path(victim.file_id), json={"description": f"patched in {mode}"})
        expect_status(resp, 400, req="SE-MODE-005", what=f"PATCH by {role} in {mode}")
    expect_equal(get_meta(api, victim.file_id), before, req="SE-MODE-005",
                 what=f"metadata after refused PATCHes in {mode}")  # fmt: skip
    station.give_back(victim)


@pytest.mark.req("SE-MODE-006", "SE-FILE-033")
def test_privileged_delete(station: ModeStation, as_role: Callable[[str], SEClient], mode: str) -> None:
    api = as_role("user")
    if mode == "edit":
        stored = upload_ok(api)
        expect_status(as_role("operator").delete(file_path(stored.file_id)), 204, req="SE-FILE-033",
                      what="DELETE by an operator in edit")  # fmt: skip
        expect_gone(api, stored.file_id, req="SE-FILE-035", what="after DELETE in edit")
        return
    victim = station.take()
    api = as_role("user")
    stored_before_restart(api, victim, mode)
    for role in ("operator", "admin"):
        resp = as_role(role).delete(file_path(victim.file_id))
        expect_status(resp, 400, req="SE-MODE-006", what=f"DELETE by {role} in {mode}")
    expect_present(api, victim, req="SE-MODE-006", what=f"the file after refused DELETEs in {mode}")
    station.give_back(victim)


@pytest.mark.req("SE-MODE-007")
def test_user_delete_is_403(station: ModeStation, as_role: Callable[[str], SEClient], mode: str) -> None:
    victim = station.take()
    stored_before_restart(as_role("user"), victim, mode)
    resp = as_role("user").delete(file_path(victim.file_id))
    expect_status(resp, 403, req="SE-MODE-007", what=f"DELETE by a user in {mode}")
    expect_present(as_role("user"), victim, req="SE-MODE-007", what=f"the file after the refused DELETE in {mode}")
    station.give_back(victim)


@pytest.mark.req("SE-GC-009")
def test_gc_works(station: ModeStation, as_role: Callable[[str], SEClient], mode: str) -> None:
    target = station.take()
    stored_before_restart(as_role("user"), target, mode)
    service = as_role("service")
    exists = service.get(gc_exists_path(target.file_id))
    expect_not_refused(exists, req="SE-GC-009", rule="SE-GC-005", what=f"GC exists in {mode}", ok=range(200, 201))
    expect_equal((expect_json(exists, req="SE-GC-009") or {}).get("exists"), True, req="SE-GC-009",
                 what=f"GC exists of a stored file in {mode}", resp=exists)  # fmt: skip
    resp = service.delete(gc_path(target.file_id), json={"reason": f"collected in {mode}"})
    expect_not_refused(resp, req="SE-GC-009", rule="SE-GC-001", what=f"GC delete in {mode}", ok=range(200, 201))
    expect_equal((expect_json(resp, req="SE-GC-009") or {}).get("status"), "deleted", req="SE-GC-001",
                 what=f"GC delete status in {mode}", resp=resp)  # fmt: skip
    # Gone as metadata and list show it: whether this mode serves downloads is the mode rules' business.
    expect_gone(as_role("user"), target.file_id, req="SE-GC-003", what=f"after GC in {mode}", download=False)


CACHE_CALLS = (  # each with the requirement that judges the endpoint itself
    ("GET", f"{CACHE}/consistency", "SE-CACHE-001"),
    ("POST", f"{CACHE}/cleanup-expired", "SE-CACHE-010"),
    ("POST", f"{CACHE}/rebuild/incremental", "SE-CACHE-008"),
    ("POST", f"{CACHE}/rebuild", "SE-CACHE-005"),
)


def expect_not_refused(resp: httpx.Response, *, req: str, rule: str, what: str, ok: range = range(200, 300)) -> None:
    """A mode requirement judges refusals: a 4xx is the mode's doing (``req`` fails). A server error or a
    broken answer is the endpoint failing on its own, in every mode: ``rule``'s, and this check is blocked."""
    if resp.status_code >= 500 or transport_fault(resp) is not None:
        with arrange(what):
            expect_status(resp, ok, req=rule, what=what)
    expect(resp.status_code in ok, req=req, what=what, expected=f"{ok.start}..{ok.stop - 1}", resp=resp)


@pytest.mark.req("SE-MODE-009")
def test_cache_endpoints_work(station: ModeStation, as_role: Callable[[str], SEClient], mode: str) -> None:
    """Defined last: a rebuild may still run in the background when the station moves on (restart)."""
    stored_before_restart(as_role("user"), survivor_of(station), mode)
    service = as_role("service")
    for method, path, rule in CACHE_CALLS:
        resp = service.request(method, path)
        expect_not_refused(resp, req="SE-MODE-009", rule=rule, what=f"{method} {path} in {mode}")
    expect_present(as_role("user"), survivor_of(station), req="SE-MODE-009", what=f"the file after rebuilds in {mode}")
