"""Tokens for the service under test: the harness's TokenFactory with the identities these tests assert on.

Signing and every broken kind come from ``harness.tokens`` (one implementation for the project); what this
adds is the public key written where the SE reads it, a positional ``mint(role, type)`` and stable subjects
(``user-sub``, ``sa-gc``) that the tests compare with ``created_by_id``, WAL ``user_id`` and ``deleted_by``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.tokens import TokenFactory


class Tokens(TokenFactory):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.public_key_path = self.write_public_key(directory / "jwt-public.pem")

    def mint(self, role: str = "user", type: str = "access", **extra: Any) -> str:
        extra.setdefault("sub", f"{role}-sub")
        extra.setdefault("name", f"{role}name")
        return super().mint(role=role, type=type, **extra)

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
