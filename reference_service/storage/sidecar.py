"""Attribute sidecars (Template Schema v2.0) next to each data file."""

from __future__ import annotations

import json
from pathlib import Path

from reference_service.records import FileRecord, SidecarInvalid
from reference_service.storage.fsops import write_atomic

MAX_SIDECAR_BYTES = 4096


class SidecarTooLarge(ValueError):
    def __init__(self, size: int) -> None:
        super().__init__(
            f"the attribute sidecar would be {size} bytes; the limit is {MAX_SIDECAR_BYTES} "
            "(shorten description, filename or custom_attributes)"
        )
        self.size = size


def encode(record: FileRecord) -> bytes:
    """The sidecar bytes, or :class:`SidecarTooLarge` (checked before anything is written)."""
    data = json.dumps(record.to_sidecar(), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarTooLarge(len(data))
    return data


def write(path: Path, data: bytes) -> None:
    write_atomic(path, data)


def read(path: Path) -> FileRecord:
    """Parse a v2 or v1 sidecar; :class:`SidecarInvalid` for anything else."""
    raw = path.read_bytes()
    if len(raw) > 4 * MAX_SIDECAR_BYTES:  # generous for hand-edited v1 files; still bounded
        raise SidecarInvalid(f"{path.name} is {len(raw)} bytes, far beyond the sidecar limit")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SidecarInvalid(f"{path.name} is not UTF-8 JSON: {exc}") from None
    return FileRecord.from_sidecar(data)
