"""PATCH /api/v1/files/{file_id} (contract §2)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.expect import expect, expect_equal, expect_json, expect_status
from suites.support import fields
from suites.support.data import has_subsecond, parse_ts, tag
from suites.support.files import Stored, file_path, get_meta, upload_ok


def stored_with_everything(api: SEClient, *, req: str) -> Stored:
    return upload_ok(api, description=f"original {tag()}", version="1.0",
                     custom_attributes={"keep": "me", "n": 1})  # fmt: skip


def patch_ok(api: SEClient, file_id: str, body: dict[str, Any], *, req: str) -> tuple[dict[str, Any], httpx.Response]:
    resp = api.patch(file_path(file_id), json=body)
    expect_status(resp, 200, req=req, what=f"PATCH {sorted(body)}")
    meta = expect_json(resp, req=req)
    expect(isinstance(meta, dict), req=req, what="PATCH answers an object", expected="the metadata", resp=resp)
    return meta, resp


def mismatched_keys(sent: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """Sent keys that are missing from, or differ in, ``attributes`` (with what ``attributes`` holds)."""
    return {k: attributes.get(k, "<missing>") for k, v in sent.items() if attributes.get(k, object()) != v}


PATCHES: dict[str, dict[str, Any]] = {
    "description": {"description": "patched description ✓"},
    "version": {"version": "2.0"},
    "both": {"description": "both", "version": "3.0"},
    "custom_attributes": {"custom_attributes": {"keep": "me", "n": 2}},
    "metadata": {"metadata": {"source": "conformance"}},
}


@pytest.mark.req("SE-FILE-028")
@pytest.mark.parametrize("case", list(PATCHES))
def test_patch_answers_full_metadata(api: SEClient, case: str) -> None:
    stored = stored_with_everything(api, req="SE-FILE-028")
    body = PATCHES[case]
    meta, resp = patch_ok(api, stored.file_id, body, req="SE-FILE-028")
    fields.expect_fields(meta, fields.METADATA, req="SE-FILE-028", what="PATCH response", resp=resp)
    # Every sent field but metadata is a field of the answer (metadata's values: SE-FILE-047).
    for name, value in body.items():
        if name != "metadata":
            expect_equal(meta.get(name), value, req="SE-FILE-028", what=f"PATCH response {name}", resp=resp)
    again = get_meta(api, stored.file_id, what="metadata after the PATCH")
    expect_equal(again, meta, req="SE-FILE-028", what="GET after PATCH answers what the PATCH answered")


@pytest.mark.req("SE-FILE-047")
def test_patch_metadata_lands_in_custom_attributes(api: SEClient) -> None:
    stored = stored_with_everything(api, req="SE-FILE-047")
    before = get_meta(api, stored.file_id)
    sent = {"source": f"legacy {tag()}", "n": 2, "nested": {"ok": True}}
    patch_ok(api, stored.file_id, {"metadata": sent}, req="SE-FILE-047")
    after = get_meta(api, stored.file_id, what="metadata after the PATCH")
    attributes = after.get("custom_attributes")
    expect(isinstance(attributes, dict), req="SE-FILE-047", what="custom_attributes after a metadata PATCH",
           expected="an object", actual=attributes)  # fmt: skip
    assert isinstance(attributes, dict)
    wrong = mismatched_keys(sent, attributes)
    expect(not wrong, req="SE-FILE-047", what="keys sent as metadata, in custom_attributes",
           expected=sent, actual=wrong)  # fmt: skip
    for name in ("description", "version"):
        expect_equal(after.get(name), before.get(name), req="SE-FILE-047", what=f"{name} after a metadata PATCH")


@pytest.mark.req("SE-FILE-029")
def test_patch_leaves_unsent_fields_alone(api: SEClient) -> None:
    stored = stored_with_everything(api, req="SE-FILE-029")
    before = get_meta(api, stored.file_id)
    patch_ok(api, stored.file_id, {"description": "only this"}, req="SE-FILE-029")
    after = get_meta(api, stored.file_id)
    for name in (*fields.IMMUTABLE_ON_PATCH, "version", "custom_attributes"):
        expect_equal(after.get(name), before.get(name), req="SE-FILE-029", what=f"{name} after a description PATCH")
    patch_ok(api, stored.file_id, {"version": "9.9"}, req="SE-FILE-029")
    last = get_meta(api, stored.file_id)
    expect_equal(last.get("description"), "only this", req="SE-FILE-029", what="description after a version PATCH")
    expect_equal(last.get("custom_attributes"), before.get("custom_attributes"), req="SE-FILE-029",
                 what="custom_attributes after a version PATCH")  # fmt: skip


@pytest.mark.req("SE-FILE-030")
def test_patch_advances_updated_at(api: SEClient) -> None:
    stored = stored_with_everything(api, req="SE-FILE-030")
    before = get_meta(api, stored.file_id)
    if not has_subsecond(before.get("updated_at")):
        time.sleep(1.05)  # whole-second timestamps: make "later" observable
    meta, resp = patch_ok(api, stored.file_id, {"description": "later"}, req="SE-FILE-030")
    old, new = parse_ts(before.get("updated_at")), parse_ts(meta.get("updated_at"))
    expect(old is not None and new is not None and new > old, req="SE-FILE-030", what="updated_at after PATCH",
           expected=f"later than {before.get('updated_at')}", actual=meta.get("updated_at"), resp=resp)  # fmt: skip


@pytest.mark.req("SE-FILE-031")
def test_patch_custom_attributes(api: SEClient) -> None:
    stored = stored_with_everything(api, req="SE-FILE-031")
    sent = {"n": 42, "added": {"nested": [1, "zwei"]}, "unicode": "ß"}
    patch_ok(api, stored.file_id, {"custom_attributes": sent}, req="SE-FILE-031")
    attributes = get_meta(api, stored.file_id).get("custom_attributes")
    expect(isinstance(attributes, dict), req="SE-FILE-031", what="custom_attributes after PATCH",
           expected="an object", actual=attributes)  # fmt: skip
    assert isinstance(attributes, dict)
    wrong = mismatched_keys(sent, attributes)
    expect(not wrong, req="SE-FILE-031", what="sent custom attributes after PATCH", expected=sent, actual=wrong)


INVALID_PATCHES: dict[str, Any] = {
    "array-body": [1, 2],
    "description-number": {"description": 123},
    "custom-attributes-list": {"custom_attributes": [1, 2]},
    "custom-attributes-string": {"custom_attributes": "text"},
    "version-51-chars": {"version": "v" * 51},
    "not-json": "not json",
}


@pytest.mark.req("SE-FILE-032")
@pytest.mark.parametrize("case", list(INVALID_PATCHES))
def test_invalid_patch_is_refused(api: SEClient, case: str) -> None:
    stored = stored_with_everything(api, req="SE-FILE-032")
    before = get_meta(api, stored.file_id)
    body = INVALID_PATCHES[case]
    if isinstance(body, str):
        resp = api.patch(file_path(stored.file_id), content=body, headers={"Content-Type": "application/json"})
    else:
        resp = api.patch(file_path(stored.file_id), json=body)
    expect_status(resp, (400, 422), req="SE-FILE-032", what=f"PATCH with {case}")
    expect_equal(get_meta(api, stored.file_id), before, req="SE-FILE-032",
                 what="metadata after the refused PATCH")  # fmt: skip


# Bodies whose offending value JSON cannot carry back (a non-finite number): an SE that echoes the
# input in its 422 must still answer a well-formed error.
UNRENDERABLE_PATCHES = {
    "description-nan": '{"description": NaN}',
    "version-1e400": '{"version": 1e400}',
    "custom-attributes-infinity": '{"custom_attributes": {"x": Infinity}}',
    "metadata-nan-in-a-list": '{"metadata": {"x": [1, {"y": [NaN]}]}}',
}


def _detail_problems(detail: Any) -> list[str]:
    """What keeps ``detail`` from being a message or FastAPI's list of validation errors (each an object
    with ``loc``, a list of strings and integers, and ``msg`` and ``type``, strings: FastAPI's
    ``ValidationError`` schema)."""
    if isinstance(detail, str):
        return [] if detail else ["an empty string"]
    if not isinstance(detail, list) or not detail:
        return [f"neither a non-empty string nor a non-empty list: {detail!r}"]
    problems = []
    for i, item in enumerate(detail):
        if not isinstance(item, dict):
            problems.append(f"[{i}] is not an object: {item!r}")
            continue
        loc = item.get("loc")
        if not isinstance(loc, list) or not all(isinstance(p, str | int) and not isinstance(p, bool) for p in loc):
            problems.append(f"[{i}].loc is not a list of strings and integers: {loc!r}")
        for name in ("msg", "type"):
            if not isinstance(item.get(name), str) or not item[name]:
                problems.append(f"[{i}].{name} is not a non-empty string: {item.get(name)!r}")
    return problems


@pytest.mark.req("SE-FILE-032", "SE-SVC-016")
@pytest.mark.parametrize("case", list(UNRENDERABLE_PATCHES))
def test_unrenderable_patch_value_is_refused_with_detail(api: SEClient, case: str) -> None:
    stored = stored_with_everything(api, req="SE-FILE-032")
    before = get_meta(api, stored.file_id)
    body = UNRENDERABLE_PATCHES[case]
    resp = api.patch(file_path(stored.file_id), content=body, headers={"Content-Type": "application/json"})
    expect_status(resp, (400, 422), req="SE-FILE-032", what=f"PATCH with {body}")
    answer = expect_json(resp, req="SE-SVC-016")
    detail = answer.get("detail") if isinstance(answer, dict) else None
    problems = _detail_problems(detail)
    expect(not problems, req="SE-SVC-016", what=f"detail of the {resp.status_code} to a PATCH with {body}",
           expected="a message, or FastAPI's list of validation errors ({loc, msg, type} objects)",
           actual=problems, resp=resp)  # fmt: skip
    expect_equal(get_meta(api, stored.file_id), before, req="SE-FILE-032",
                 what="metadata after the refused PATCH")  # fmt: skip
