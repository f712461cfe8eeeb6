"""The everyday callers by role: one mapping instead of one per test module."""

from __future__ import annotations

from harness.tokens import TokenFactory

ROLES = ("user", "operator", "admin", "service", "anonymous")


def token_for(tokens: TokenFactory, role: str) -> str | None:
    """A fresh token of the harness's standard caller ``role`` (``None`` for ``anonymous``).

    ``admin`` is an ``admin_user`` token with role admin; ``service`` a ``service_account`` token.
    """
    if role == "anonymous":
        return None
    minted = {
        "user": lambda: tokens.user,
        "operator": lambda: tokens.operator,
        "admin": lambda: tokens.admin,
        "service": lambda: tokens.service,
    }
    if role not in minted:
        raise ValueError(f"unknown caller role {role!r}; expected one of {', '.join(ROLES)}")
    return minted[role]()
