"""Bearer-token authentication (RS256 only) and the role/service-account rules of contract §3."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reference_service.errors import Forbidden

REQUIRED_CLAIMS = ("sub", "type", "role", "name", "jti", "iat", "nbf", "exp")
TOKEN_TYPES = frozenset({"admin_user", "service_account", "access", "refresh"})
ROLES = frozenset({"admin", "operator", "user"})
DELETE_ROLES = frozenset({"admin", "operator"})
SERVICE_CLIENT_PREFIX = "sa_"
MAX_CLAIM_CHARS = 255  # the claims land in varchar(255) columns

# auto_error=False: we answer 401 ourselves, with the WWW-Authenticate header the contract requires.
bearer = HTTPBearer(auto_error=False, description="RS256 JWT")


@dataclass(frozen=True)
class Principal:
    sub: str
    name: str
    type: str
    role: str | None  # None for a role we do not know: it grants nothing beyond reading/writing
    client_id: str | None
    full_name: str | None
    expires: int = field(default=0, compare=False)  # the exp claim, for VerifiedTokens

    @property
    def is_service_account(self) -> bool:
        if self.type == "service_account":
            return True
        return self.type in ("access", "refresh") and (self.client_id or "").startswith(SERVICE_CLIENT_PREFIX)

    @property
    def may_delete(self) -> bool:
        return self.role in DELETE_ROLES


class InvalidToken(Exception):
    pass


def _claim_text(claims: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_CLAIM_CHARS:
        raise InvalidToken(f"claim {name!r} must be a non-empty string of at most {MAX_CLAIM_CHARS} chars")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidToken(f"claim {name!r} contains characters that cannot be stored")
    return value


def decode_token(token: str, key: RSAPublicKey) -> Principal:
    try:
        # algorithms=["RS256"] is what rejects alg=none and HS256-signed-with-the-public-key.
        claims = jwt.decode(token, key=key, algorithms=["RS256"], options={"require": list(REQUIRED_CLAIMS)})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    token_type = _claim_text(claims, "type")
    if token_type not in TOKEN_TYPES:
        raise InvalidToken(f"unknown token type {token_type!r}")
    role = (_claim_text(claims, "role") or "").lower()
    full_name = claims.get("full_name") if isinstance(claims.get("full_name"), str) else None
    return Principal(
        sub=_claim_text(claims, "sub") or "",
        name=_claim_text(claims, "name") or "",
        type=token_type,
        role=role if role in ROLES else None,
        client_id=_claim_text(claims, "client_id", required=False),
        full_name=_claim_text({"full_name": full_name}, "full_name", required=False),
        expires=_expiry(claims),
    )


def _expiry(claims: dict[str, Any]) -> int:
    """``exp`` as PyJWT reads it; 0 (never reused from VerifiedTokens) when it is not a number."""
    try:
        return int(claims["exp"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return 0


class VerifiedTokens:
    """Tokens :func:`decode_token` accepted, so that a client's next request with the same token skips
    the RSA verification and the claim checks (issue 11) - never the expiry: an entry is used only while
    ``now < exp``, PyJWT's own rule (with no leeway), and ``nbf``/``iat`` already passed cannot un-pass.
    Failures are not kept. One per application (per public key); bounded, emptied when full."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._entries: dict[str, Principal] = {}

    def get(self, token: str) -> Principal | None:
        who = self._entries.get(token)
        if who is not None and who.expires <= time.time():
            del self._entries[token]
            return None
        return who

    def add(self, token: str, who: Principal) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[token] = who


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": challenge})


async def principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if credentials is None:
        raise _unauthorized("not authenticated: send 'Authorization: Bearer <token>'")
    ctx = request.app.state.ctx
    token = credentials.credentials
    who: Principal | None = ctx.verified_tokens.get(token)
    if who is not None:
        return who
    try:
        who = decode_token(token, ctx.config.public_key)
    except InvalidToken as exc:
        # The reason is safe to echo (PyJWT messages carry no token material) and helps clients.
        raise _unauthorized(f"invalid token: {exc}", "invalid_token") from None
    ctx.verified_tokens.add(token, who)
    return who


async def service_account(who: Principal = Depends(principal)) -> Principal:
    if not who.is_service_account:
        raise Forbidden("this endpoint is for service accounts only")
    return who


async def deleter(who: Principal = Depends(principal)) -> Principal:
    if not who.may_delete:
        raise Forbidden("deleting files needs role operator or admin")
    return who
