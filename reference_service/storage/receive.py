"""Receive a multipart/form-data upload as a stream.

Starlette's ``request.form()`` would spool the whole file to /tmp first (another filesystem, then a
copy). Instead the body is fed chunk by chunk to python-multipart's push parser; the ``file`` part
goes straight into a temp file under ``<base>/.incoming`` while its SHA-256 is computed, so memory
stays flat for any size and the final placement is a rename on the same filesystem.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from reference_service.storage.capacity import Reservation
from reference_service.storage.fsops import remove_quietly

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024  # text fields; the sidecar limit (4 KiB) is far below anyway
MAX_PARTS = 32
MAX_HEADER_BYTES = 8 * 1024
# File bytes are handed to a worker thread in batches of at least this much (the rest at the end, with
# the fsync): one thread hop per batch rather than per received chunk; a small file costs a single hop.
WRITE_BATCH_BYTES = 256 * 1024


class UploadRejected(Exception):
    """The request body is not an acceptable multipart upload (→ 400)."""


class BodyAborted(Exception):
    """The client closed the connection before the body ended; the temp file is already removed."""

    def __init__(self, body_bytes: int, file_bytes: int, temp_path: Path, filename: str | None,
                 fields: dict[str, str]) -> None:  # fmt: skip
        super().__init__(f"the client closed the connection after {body_bytes} body bytes")
        self.body_bytes = body_bytes
        self.file_bytes = file_bytes
        self.temp_path = temp_path
        self.filename = filename
        self.fields = fields


@dataclass
class ReceivedFile:
    temp_path: Path
    size: int
    sha256: str
    filename: str | None
    content_type: str | None
    fields: dict[str, str] = field(default_factory=dict)


def _decode_header(raw: bytes) -> str:
    # Browsers and httpx send UTF-8 in part headers (RFC 7578 §4.2 allows it); fall back to
    # latin-1 so that odd clients still get their bytes back rather than an error.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def boundary_of(content_type: str | None) -> bytes:
    ctype, options = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data":
        raise UploadRejected("the request body must be multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 70:
        raise UploadRejected("multipart/form-data without a valid boundary")
    return boundary


def _write_chunks(fh: IO[bytes], digest: Any, chunks: list[bytes]) -> None:
    for chunk in chunks:
        fh.write(chunk)
        digest.update(chunk)


class _Receiver:
    """Parser callbacks collect parts; file bytes are written by the async loop in a thread."""

    def __init__(self, incoming: Path, reservation: Reservation) -> None:
        self.incoming = incoming
        self.reservation = reservation
        self.fields: dict[str, str] = {}
        self.parts = 0
        self.finished = False
        self.file: ReceivedFile | None = None
        self.temp_path = incoming / f"{uuid.uuid4().hex}.part"
        self._fh: IO[bytes] | None = None
        self._digest = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[str, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._buffer = bytearray()

    # -- parser callbacks (synchronous, no I/O) -----------------------------------------------------
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadRejected(f"more than {MAX_PARTS} multipart parts")
        self._headers = {}
        self._name = None
        self._is_file = False
        self._buffer = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").strip().lower()] = self._header_value.strip()
        self._header_field = self._header_value = b""

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get("content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise UploadRejected("a multipart part lacks 'Content-Disposition: form-data; name=...'")
        self._name = _decode_header(options[b"name"])
        if self._name != FILE_FIELD:
            return
        if self.file is not None:
            raise UploadRejected("more than one 'file' part")
        self._is_file = True
        filename = options.get(b"filename")
        ctype = self._headers.get("content-type")
        self.file = ReceivedFile(
            temp_path=self.temp_path,
            size=0,
            sha256="",
            filename=_decode_header(filename) if filename is not None else None,
            content_type=_decode_header(ctype) if ctype else None,
        )
        self._fh = open(self.temp_path, "wb")  # noqa: SIM115  (closed in finish/cleanup)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.reservation.add(len(chunk))
            self._pending.append(chunk)
            self._pending_bytes += len(chunk)
        else:
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                raise UploadRejected(f"form field {self._name!r} is larger than {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self._is_file or self._name is None:
            return
        if self._name in self.fields:
            raise UploadRejected(f"form field {self._name!r} appears more than once")
        try:
            self.fields[self._name] = self._buffer.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadRejected(f"form field {self._name!r} is not UTF-8 text") from None

    def on_end(self) -> None:
        self.finished = True

    # -- async side ------------------------------------------------------------------------------
    def _take(self) -> list[bytes]:
        chunks, self._pending, self._pending_bytes = self._pending, [], 0
        return chunks

    async def flush(self) -> None:
        if self._pending_bytes >= WRITE_BATCH_BYTES and self._fh is not None:
            await asyncio.to_thread(_write_chunks, self._fh, self._digest, self._take())

    async def finish(self) -> ReceivedFile:
        if not self.finished:
            raise UploadRejected("the multipart body ended before its closing boundary")
        if self.file is None or self._fh is None:
            raise UploadRejected("the multipart body has no 'file' part")
        fh, self._fh = self._fh, None
        # The last bytes, then fsync before the rename: the data is durable before any metadata
        # points at it.
        await asyncio.to_thread(_write_last, fh, self._digest, self._take())
        self.file.size = self.reservation.bytes
        self.file.sha256 = self._digest.hexdigest()
        self.file.fields = self.fields
        return self.file

    def cleanup(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        remove_quietly(self.temp_path)


def _write_last(fh: IO[bytes], digest: Any, chunks: list[bytes]) -> None:
    try:
        _write_chunks(fh, digest, chunks)
    except BaseException:
        fh.close()
        raise
    _close_synced(fh)


def _close_synced(fh: IO[bytes]) -> None:
    try:
        fh.flush()
        os.fsync(fh.fileno())
    finally:
        fh.close()


async def receive(request: Request, incoming: Path, reservation: Reservation) -> ReceivedFile:
    """Stream the body into a temp file; the caller owns (and must remove) ``temp_path``.

    Raises :class:`UploadRejected` for a malformed body, :class:`BodyAborted` when the client goes
    away mid-body, and ``CapacityExceeded`` from the reservation; in each case the temp file is
    already gone.
    """
    boundary = boundary_of(request.headers.get("content-type"))
    incoming.mkdir(parents=True, exist_ok=True)
    rx = _Receiver(incoming, reservation)
    callbacks: Any = {
        name: getattr(rx, name)
        for name in ("on_part_begin", "on_header_field", "on_header_value", "on_header_end",
                     "on_headers_finished", "on_part_data", "on_part_end", "on_end")
    }  # fmt: skip
    parser = MultipartParser(boundary, callbacks, max_header_size=MAX_HEADER_BYTES)
    body_bytes = 0
    try:
        async for chunk in request.stream():
            if chunk:
                body_bytes += len(chunk)
                parser.write(chunk)
                await rx.flush()
        parser.finalize()
        return await rx.finish()
    except MultipartParseError as exc:
        rx.cleanup()
        raise UploadRejected(f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        rx.cleanup()
        filename = rx.file.filename if rx.file else None
        raise BodyAborted(body_bytes, rx.reservation.bytes, rx.temp_path, filename, dict(rx.fields)) from None
    except BaseException:
        rx.cleanup()
        raise
