"""Mint RS256 tokens for the service under test (and broken ones, for the 401 cases)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CLAIMS = ("sub", "type", "role", "name", "jti", "iat", "nbf", "exp")


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class Tokens:
    def __init__(self, directory: Path) -> None:
        self._key = _new_key()
        self._other = _new_key()
        self.public_pem = _public_pem(self._key)
        self.public_key_path = directory / "jwt-public.pem"
        self.public_key_path.write_bytes(self.public_pem)

    def claims(self, role: str = "user", type: str = "access", **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": f"{role}-sub",
            "type": type,
            "role": role,
            "name": f"{role}name",
            "jti": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }
        claims.update(extra)
        return claims

    def mint(self, role: str = "user", type: str = "access", **extra: Any) -> str:
        return jwt.encode(self.claims(role, type, **extra), self._key, algorithm="RS256")

    @property
    def user(self) -> str:
        return self.mint("user")

    @property
    def operator(self) -> str:
        return self.mint("operator")

    @property
    def admin(self) -> str:
        return self.mint("admin")

    @property
    def service(self) -> str:
        """A service account that may also delete (role admin)."""
        return self.mint("admin", "service_account", sub="sa-gc", name="gc-service")

    def broken(self, kind: str) -> str:
        """Tokens that must be refused with 401."""
        now = int(time.time())
        if kind == "expired":
            return self.mint(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        if kind == "not_yet_valid":
            return self.mint(nbf=now + 3600, exp=now + 7200)
        if kind == "wrong_key":
            return jwt.encode(self.claims(), self._other, algorithm="RS256")
        if kind == "alg_none":
            return jwt.encode(self.claims(), "", algorithm="none")
        if kind == "hs256_public_key":
            return _hs256(self.claims(), self.public_pem)
        if kind == "unknown_type":
            return self.mint(type="robot")
        if kind == "garbage":
            return "not.a.jwt"
        if kind.startswith("missing:"):
            claims = self.claims()
            del claims[kind.split(":", 1)[1]]
            return jwt.encode(claims, self._key, algorithm="RS256")
        raise ValueError(kind)


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    """HS256 signed with the public key as the secret (the classic algorithm-confusion attack).

    PyJWT refuses to use a PEM as an HMAC secret, so the token is assembled by hand.
    """
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(secret, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode()
