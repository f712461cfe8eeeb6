"""What every target kind provides to the plugin: running SEs, their lifecycle, their database."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from harness.errors import Unsupported
from harness.postgres.info import PostgresInfo
from harness.profile import TargetProfile
from harness.storage_view import StorageView

MODES = ("edit", "rw", "ro", "ar")
FACILITY_DB = "db"
FACILITY_FS = "fs"
FACILITY_LIFECYCLE = "lifecycle"
#: The local target with --se-trace-syscalls: an SE can be started under strace (opt-in, never by profile).
FACILITY_SYSCALLS = "syscalls"
FACILITIES = (FACILITY_DB, FACILITY_FS, FACILITY_LIFECYCLE)


@dataclass
class SEHandle:
    """One running SE as the suite sees it."""

    name: str
    base_url: str
    prefix: str
    mode: str
    element_id: str
    capacity: int | None = None
    storage: StorageView | None = None
    database: PostgresInfo | None = None
    # Opaque per-kind data (process, container, volume) used by the Lifecycle that made it.
    private: dict[str, Any] = field(default_factory=dict, repr=False)
    _log_reader: object = field(default=None, repr=False)

    def logs(self, lines: int = 60) -> str:
        reader = self._log_reader
        if callable(reader):
            return str(reader(lines))
        return "(logs not available for this target)"


class PostgresHandle(abc.ABC):
    """A PostgreSQL server a test owns and may stop and start."""

    @property
    @abc.abstractmethod
    def info(self) -> PostgresInfo: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def start(self) -> PostgresInfo: ...

    @abc.abstractmethod
    def destroy(self) -> None: ...


class Lifecycle(abc.ABC):
    """Start, restart and kill SEs; only docker and local targets have one."""

    @abc.abstractmethod
    def start_se(
        self,
        *,
        mode: str = "edit",
        prefix: str | None = None,
        capacity: int | None = None,
        database: PostgresInfo | None = None,
        storage_of: SEHandle | None = None,
        extra_env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> SEHandle:
        """Start an SE. ``storage_of`` reuses another (stopped) SE's storage path."""

    @abc.abstractmethod
    def restart_se(self, se: SEHandle, *, mode: str | None = None) -> SEHandle:
        """Stop ``se`` and start it again on the same prefix, database and storage."""

    @abc.abstractmethod
    def kill_se(self, se: SEHandle) -> None:
        """SIGKILL: the SE gets no chance to clean up."""

    @abc.abstractmethod
    def stop_se(self, se: SEHandle) -> None: ...

    def freeze_storage(self, se: SEHandle) -> None:
        """Make ``se``'s storage base directory unwritable, even for root (the immutable flag), and prove it.

        ``Unsupported`` where this lifecycle or machine cannot; every freeze must be undone by
        ``thaw_storage`` (``suites.support.inspect.storage_unwritable`` pairs them).
        """
        raise Unsupported(f"{type(self).__name__} cannot make an SE's storage unwritable")

    def thaw_storage(self, se: SEHandle) -> None:
        """Undo ``freeze_storage`` (nothing to do if ``se``'s storage is not frozen)."""
        return None

    @abc.abstractmethod
    def private_database(self) -> PostgresHandle:
        """A PostgreSQL server of the caller's own, so stopping it disturbs no other test."""

    @abc.abstractmethod
    def close(self) -> None:
        """Remove every SE this lifecycle started."""


class Target(abc.ABC):
    kind: str = ""
    profile: TargetProfile = TargetProfile()
    capabilities: frozenset[str] = frozenset()
    facilities: frozenset[str] = frozenset()
    database: PostgresInfo | None = None
    lifecycle: Lifecycle | None = None

    @abc.abstractmethod
    def main_se(self) -> SEHandle:
        """The SE this worker tests (mode edit), started on first use."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def env_name(self, contract_name: str) -> str:
        """The target's own name of a launch-contract variable (its profile may rename it)."""
        return self.profile.env_name(contract_name)

    def describe(self) -> dict[str, object]:
        """Identity of the target for reports (kind, image/command, ...)."""
        return {"kind": self.kind}


class ManagedTarget(Target):
    """A target whose SEs the harness starts itself (docker, local): the main SE comes from its lifecycle."""

    lifecycle: Lifecycle

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self._main: SEHandle | None = None

    def main_se(self) -> SEHandle:
        if self._main is None:
            self._main = self.lifecycle.start_se(mode="edit")
        return self._main

    def close(self) -> None:
        self.lifecycle.close()
