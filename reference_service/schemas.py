"""Request and response bodies, so that /openapi.json describes exactly what the service does."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reference_service.jsonvalue import check_object, check_text


class Detail(BaseModel):
    detail: str


class RootInfo(BaseModel):
    service: str
    version: str
    mode: str
    storage_type: str
    status: str


class Live(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]
    mode: str
    checks: dict[str, str]


class Info(BaseModel):
    name: str
    display_name: str
    version: str
    mode: str
    storage_type: str
    base_path: str
    capacity_bytes: int
    used_bytes: int
    file_count: int
    status: Literal["operational", "maintenance"]
    priority: int
    element_id: str
    timestamp: datetime


class CapacityFigures(BaseModel):
    total: int
    used: int
    available: int
    percent_used: float


class Capacity(BaseModel):
    storage_id: str
    mode: str
    capacity: CapacityFigures
    health: Literal["healthy", "warning", "critical", "full", "degraded"]
    last_update: datetime
    backend: str
    location: str


class UploadResult(BaseModel):
    file_id: uuid.UUID
    original_filename: str
    file_size: int
    checksum: str
    message: str


class FileMetadata(BaseModel):
    file_id: uuid.UUID
    original_filename: str
    storage_filename: str
    file_size: int
    content_type: str
    created_at: datetime
    updated_at: datetime
    created_by_username: str
    created_by_fullname: str | None
    description: str | None
    version: str | None
    storage_path: str
    checksum: str
    custom_attributes: dict[str, Any]
    cache_updated_at: datetime
    cache_ttl_hours: int
    cache_expired: bool


class FileList(BaseModel):
    total: int
    files: list[FileMetadata]


class FileUpdate(BaseModel):
    """PATCH body. Fields not sent stay unchanged; ``metadata`` is the legacy (v1) name for custom
    attributes and is merged key by key, while ``custom_attributes`` replaces the whole object."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    version: str | None = Field(default=None, max_length=50)
    metadata: dict[str, Any] | None = None
    custom_attributes: dict[str, Any] | None = None

    @field_validator("description", "version")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "field")

    @field_validator("metadata", "custom_attributes")
    @classmethod
    def _object(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_object(value, "field")


class GcDeleteRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=1000)

    @field_validator("reason")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "reason")


class GcDeleteResult(BaseModel):
    status: Literal["deleted", "already_deleted"]
    file_id: uuid.UUID
    deleted_at: datetime | None
    deleted_by: str | None
    reason: str | None


class GcExists(BaseModel):
    exists: bool
    file_id: uuid.UUID


class ConsistencyReport(BaseModel):
    total_attr_files: int
    total_cache_entries: int
    orphan_cache_count: int
    orphan_attr_count: int
    expired_cache_count: int
    is_consistent: bool
    details: dict[str, Any]
    checked_at: datetime


class RebuildResult(BaseModel):
    status: Literal["completed"]
    kind: Literal["full", "incremental"]
    attr_files_found: int
    entries_created: int
    entries_updated: int
    entries_removed: int
    errors: list[str]
    duration_ms: int


class CleanupResult(BaseModel):
    status: Literal["completed"]
    expired_found: int
    refreshed: int
    removed: int
    duration_ms: int


# OpenAPI fragment for the upload body: the endpoint reads the stream itself (see storage/receive.py),
# so FastAPI cannot infer it.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the file"},
                        "description": {"type": "string"},
                        "version": {"type": "string", "maxLength": 50},
                        "file_id": {"type": "string", "format": "uuid",
                                    "description": "caller-chosen id; generated when absent"},
                        "custom_attributes": {"type": "string",
                                              "description": "a JSON object, serialized"},
                    },
                }
            }
        },
    }
}  # fmt: skip


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error statuses an endpoint can return."""
    return {code: {"model": Detail} for code in codes}
