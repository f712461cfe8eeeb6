"""The fleet file ``se-conformance serve --fleet N`` / ``--ses MODES`` writes for the SEs it started."""

from __future__ import annotations

from pathlib import Path

from harness.cli.serve_deploy import Deployment
from harness.fleet import toml_out
from harness.fleet.spec import FleetEntry
from harness.postgres.info import PostgresInfo
from harness.targets.base import SEHandle


def fleet_entries(deployment: Deployment, database: PostgresInfo, ses: list[SEHandle],
                  private_key: Path) -> list[FleetEntry]:  # fmt: skip
    dsn = database.dsn("postgresql")
    entries = []
    for se in ses:
        storage = deployment.host_storage_path(se)
        entries.append(FleetEntry(
            name=se.element_id, url=se.base_url, table_prefix=se.prefix, mode=se.mode, db_dsn=dsn,
            storage_path=Path(storage) if storage else None, private_key=private_key,
            capabilities=tuple(sorted(deployment.profile.capabilities)),
        ))  # fmt: skip
    return entries


def write_fleet_file(path: Path, deployment: Deployment, database: PostgresInfo, ses: list[SEHandle],
                     private_key: Path) -> Path:  # fmt: skip
    header = (f"Written by `se-conformance serve` ({deployment.runs_as}); valid while it runs.\n"
              "Verify: se-conformance run --fleet THIS-FILE")  # fmt: skip
    return toml_out.write(path.resolve(), fleet_entries(deployment, database, ses, private_key), header)
