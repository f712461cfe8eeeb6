"""Errors that map to HTTP statuses, and the handlers that render them as ``{"detail": ...}``.

Operations raise :class:`ServiceError` subclasses; an unreachable database becomes 503 (never 500),
so clients know to retry.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import ClientDisconnect

from reference_service.validation import validation_failed

log = logging.getLogger("reference_service")


class ServiceError(Exception):
    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ServiceError):
    status = 400


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class InsufficientStorage(ServiceError):
    status = 507


class Unavailable(ServiceError):
    status = 503


# nginx's "client closed request": never sent on the wire (nobody is listening any more), but the
# status the access log and /metrics record, so that a client abort is not counted as a 5xx.
CLIENT_CLOSED = 499


class ClientClosed(ServiceError):
    """The client closed the connection before the request was answered; the operation is undone."""

    status = CLIENT_CLOSED


DB_DOWN = "database unavailable; retry later"


def is_db_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | psycopg.OperationalError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, asyncio.TimeoutError | ConnectionError)


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


async def _client_disconnect(request: Request, _: Exception) -> JSONResponse:
    # An ordinary event (a cancelled transfer, a dropped network), not a fault of the SE: one line,
    # no traceback. Uploads handle their own abort (operations/upload.py); this covers the rest.
    log.warning("%s %r: the client closed the connection before the answer", request.method, request.url.path)
    return JSONResponse({"detail": "client closed the connection"}, status_code=CLIENT_CLOSED)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_db_unavailable(exc):
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": DB_DOWN}, status_code=503)
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    for exc_type in (OperationalError, InterfaceError, PoolTimeout, DBAPIError, psycopg.Error,
                     asyncio.TimeoutError, ConnectionError, Exception):  # fmt: skip
        app.add_exception_handler(exc_type, _unexpected)
