"""The response fields the contract names (contract §2), and a check that they are present."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from harness.expect import expect

ROOT = ("service", "version", "mode", "storage_type", "status")
INFO = (
    "name", "display_name", "version", "mode", "storage_type", "base_path", "capacity_bytes", "used_bytes",
    "file_count", "status", "priority", "element_id", "timestamp",
)  # fmt: skip
CAPACITY = ("storage_id", "mode", "capacity", "health", "last_update", "backend", "location")
CAPACITY_FIGURES = ("total", "used", "available", "percent_used")
UPLOAD = ("file_id", "original_filename", "file_size", "checksum", "message")
METADATA = (
    "file_id", "original_filename", "storage_filename", "file_size", "content_type", "created_at", "updated_at",
    "created_by_username", "created_by_fullname", "description", "version", "storage_path", "checksum",
    "custom_attributes", "cache_updated_at", "cache_ttl_hours", "cache_expired",
)  # fmt: skip
LIST = ("total", "files")
GC_DELETE = ("status", "file_id", "deleted_at", "deleted_by", "reason")
GC_EXISTS = ("exists", "file_id")
# Metadata fields a PATCH of description/version/custom_attributes must leave alone.
IMMUTABLE_ON_PATCH = (
    "file_id", "original_filename", "storage_filename", "file_size", "content_type", "created_at",
    "created_by_username", "checksum",
)  # fmt: skip


def expect_fields(
    obj: Any, fields: Iterable[str], *, req: str, what: str, resp: httpx.Response | None = None
) -> Mapping[str, Any]:
    """``obj`` is a JSON object holding every name in ``fields``; returns it."""
    expect(isinstance(obj, dict), req=req, what=f"{what} is a JSON object", expected="a JSON object",
           actual=type(obj).__name__, resp=resp)  # fmt: skip
    missing = [name for name in fields if name not in obj]
    expect(not missing, req=req, what=f"{what} lacks field(s) {', '.join(missing)}",
           expected=f"all of {', '.join(fields)}", actual=sorted(obj), resp=resp)  # fmt: skip
    return obj


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
