"""Where things live under ``STORAGE_LOCAL_BASE_PATH``, and how stored file names are made.

``<base>/<YYYY>/<MM>/<DD>/<HH>/<storage_filename>`` (UTC hour of ``created_at``), the sidecar next to
it as ``<storage_filename>.attr.json``. Uploads in flight live in ``<base>/.incoming`` (same
filesystem, so the final step is an atomic rename; everything in it is garbage after a restart).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from pathlib import Path

SIDECAR_SUFFIX = ".attr.json"
INCOMING_DIR = ".incoming"
MAX_STORAGE_FILENAME = 200
MAX_EXT = 16
MAX_USERNAME = 32
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def relative_dir(created_at: datetime) -> str:
    return created_at.astimezone(UTC).strftime("%Y/%m/%d/%H")


def _ascii_safe(text: str) -> str:
    """Transliterate to ASCII where Unicode allows it, then replace anything unsafe with ``_``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _UNSAFE.sub("_", ascii_text)


def _split_ext(name: str) -> tuple[str, str]:
    # Only the last path component matters; both separators count because clients differ.
    base = re.split(r"[/\\]", name)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem.strip("."):
        return base, ""
    safe_ext = _ascii_safe(ext).strip("._")[:MAX_EXT]
    return stem, f".{safe_ext}" if safe_ext else ""


def make_storage_filename(original: str, username: str, created_at: datetime, file_id: uuid.UUID) -> str:
    """``<stem>_<username>_<YYYYMMDDTHHMMSS>_<file_id><ext>``, ASCII-safe and at most 200 chars."""
    stem, ext = _split_ext(original)
    safe_stem = _ascii_safe(stem).strip("._-") or "file"
    safe_user = (_ascii_safe(username).strip("._-") or "user")[:MAX_USERNAME]
    stamp = created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    tail = f"_{safe_user}_{stamp}_{file_id}{ext}"
    return safe_stem[: MAX_STORAGE_FILENAME - len(tail)].rstrip("._-") + tail


def data_path(base: Path, storage_path: str, storage_filename: str) -> Path:
    return base / storage_path / storage_filename


def sidecar_path(data: Path) -> Path:
    return data.with_name(data.name + SIDECAR_SUFFIX)


def incoming_dir(base: Path) -> Path:
    return base / INCOMING_DIR
