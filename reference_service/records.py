"""The metadata of one stored file, and its three representations.

A :class:`FileRecord` is written to the sidecar (the source of truth), to the ``<p>_files`` row (the
cache) and to API responses. Keeping the conversions in one place is what makes "a rebuild from
sidecars restores every field exactly" hold by construction.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reference_service.jsonvalue import InvalidValue, check_object

SCHEMA_VERSION = "2.0"

# Sidecar fields that every version carries (v1 = these without schema_version/custom_attributes).
REQUIRED_FIELDS = (
    "file_id",
    "original_filename",
    "storage_filename",
    "file_size",
    "content_type",
    "created_at",
    "updated_at",
    "created_by_username",
    "storage_path",
    "checksum",
)
OPTIONAL_FIELDS = ("created_by_id", "created_by_fullname", "description", "version")


class SidecarInvalid(ValueError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    # Always UTC with microseconds, so a sidecar round-trips through timestamptz exactly.
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise SidecarInvalid(f"{name} must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise SidecarInvalid(f"{name} is not an ISO 8601 timestamp: {value!r}") from None
    if ts.tzinfo is None:  # v1 writers stored naive UTC
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


@dataclass(frozen=True)
class FileRecord:
    file_id: uuid.UUID
    original_filename: str
    storage_filename: str
    file_size: int
    content_type: str
    created_at: datetime
    updated_at: datetime
    created_by_id: str
    created_by_username: str
    created_by_fullname: str | None
    description: str | None
    version: str | None
    storage_path: str  # directory relative to the storage base: YYYY/MM/DD/HH
    checksum: str
    custom_attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def relative_path(self) -> str:
        return f"{self.storage_path}/{self.storage_filename}"

    def evolve(self, **changes: Any) -> FileRecord:
        return replace(self, **changes)

    # -- sidecar ---------------------------------------------------------------------------------
    def to_sidecar(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "file_id": str(self.file_id),
            "original_filename": self.original_filename,
            "storage_filename": self.storage_filename,
            "file_size": self.file_size,
            "content_type": self.content_type,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "created_by_id": self.created_by_id,
            "created_by_username": self.created_by_username,
            "created_by_fullname": self.created_by_fullname,
            "description": self.description,
            "version": self.version,
            "storage_path": self.storage_path,
            "checksum": self.checksum,
            "custom_attributes": self.custom_attributes,
        }

    @classmethod
    def from_sidecar(cls, data: Any) -> FileRecord:
        """Read a v2 sidecar, or a v1 one (no ``schema_version``) as v2 with no custom attributes."""
        if not isinstance(data, dict):
            raise SidecarInvalid("sidecar is not a JSON object")
        version = data.get("schema_version")
        if version not in (None, SCHEMA_VERSION):
            raise SidecarInvalid(f"unsupported schema_version {version!r}")
        missing = [name for name in REQUIRED_FIELDS if name not in data]
        if missing:
            raise SidecarInvalid(f"sidecar lacks {', '.join(missing)}")
        strings = ("original_filename", "storage_filename", "content_type", "created_by_username",
                   "storage_path", "checksum")  # fmt: skip
        for name in strings:
            if not isinstance(data[name], str):
                raise SidecarInvalid(f"{name} must be a string")
        for name in OPTIONAL_FIELDS:
            if data.get(name) is not None and not isinstance(data[name], str):
                raise SidecarInvalid(f"{name} must be a string or null")
        size = data["file_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise SidecarInvalid("file_size must be a non-negative integer")
        try:
            file_id = uuid.UUID(str(data["file_id"]))
            attrs = check_object(data.get("custom_attributes") or {}, "custom_attributes")
        except (ValueError, InvalidValue) as exc:
            raise SidecarInvalid(str(exc)) from None
        return cls(
            file_id=file_id,
            original_filename=data["original_filename"],
            storage_filename=data["storage_filename"],
            file_size=size,
            content_type=data["content_type"],
            created_at=parse_ts(data["created_at"], "created_at"),
            updated_at=parse_ts(data["updated_at"], "updated_at"),
            # v1 sidecars had no creator id; the username is the best stand-in.
            created_by_id=data.get("created_by_id") or data["created_by_username"],
            created_by_username=data["created_by_username"],
            created_by_fullname=data.get("created_by_fullname"),
            description=data.get("description"),
            version=data.get("version"),
            storage_path=data["storage_path"],
            checksum=data["checksum"],
            custom_attributes=attrs,
        )

    # -- database row ----------------------------------------------------------------------------
    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["metadata_json"] = row.pop("custom_attributes")
        return row

    @classmethod
    def from_row(cls, row: Any) -> FileRecord:
        m = row._mapping
        return cls(
            file_id=m["file_id"],
            original_filename=m["original_filename"],
            storage_filename=m["storage_filename"],
            file_size=m["file_size"],
            content_type=m["content_type"],
            created_at=m["created_at"].astimezone(UTC),
            updated_at=m["updated_at"].astimezone(UTC),
            created_by_id=m["created_by_id"],
            created_by_username=m["created_by_username"],
            created_by_fullname=m["created_by_fullname"],
            description=m["description"],
            version=m["version"],
            storage_path=m["storage_path"],
            checksum=m["checksum"],
            custom_attributes=m["metadata_json"] or {},
        )
