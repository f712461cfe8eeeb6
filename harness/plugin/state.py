"""Per-process plugin state: the shared run description and this worker's target, built on first use."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.client import Exchange
from harness.plugin import options as opt
from harness.plugin.cleanup import remove_created_files
from harness.plugin.infra import Controller, build_target, worker_id
from harness.targets.base import Target
from harness.targets.kinds import KINDS
from harness.tokens import TokenFactory


@dataclass
class WorkerState:
    config: pytest.Config
    shared: dict[str, Any]
    controller: Controller | None = None
    _target: Target | None = None
    _tokens: TokenFactory | None = None
    # (base_url, file_id) of every file this worker created: deleted at the end where the kind says so (url).
    created: list[tuple[str, str]] = field(default_factory=list)

    @property
    def worker(self) -> str:
        return worker_id(self.config)

    def target(self) -> Target:
        if self._target is None:
            self._target = build_target(self.config, self.shared, self.worker)
        return self._target

    def tokens(self) -> TokenFactory:
        if self._tokens is None:
            pem = Path(self.shared["private_key_path"]).read_bytes()
            self._tokens = StaticOrMintedTokens(self.config, pem)
        return self._tokens

    def note_created(self, exchange: Exchange, file_id: str) -> None:
        base = exchange.url.split("/api/", 1)[0]
        self.created.append((base, file_id))

    def close(self) -> None:
        if self._target is None:
            return
        kind = KINDS.get(self._target.kind)
        if kind is not None and kind.deletes_created_files and self.created:
            problems = remove_created_files(self.created, self.tokens())
            # Workers' stdout is swallowed by xdist; stderr reaches the console.
            for line in problems:
                print(f"se-conformance: could not remove a file this run created: {line}", file=sys.__stderr__)
        self._target.close()
        self._target = None


class StaticOrMintedTokens(TokenFactory):
    """Minted tokens, except roles for which the user passed a ready token (url targets)."""

    def __init__(self, config: pytest.Config, private_pem: bytes) -> None:
        super().__init__(private_pem)
        self._given = {role: config.getoption(opt.dest(opt.TOKEN_PREFIX + role)) for role in opt.ROLES}

    def _pick(self, role: str, minted: str) -> str:
        return self._given.get(role) or minted

    @property
    def user(self) -> str:
        return self._pick("user", super().user)

    @property
    def operator(self) -> str:
        return self._pick("operator", super().operator)

    @property
    def admin(self) -> str:
        return self._pick("admin", super().admin)

    @property
    def service(self) -> str:
        return self._pick("service", super().service)


STATE_KEY = pytest.StashKey[WorkerState]()
