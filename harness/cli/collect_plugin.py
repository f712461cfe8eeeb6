"""pytest plugin for ``se-conformance list``: dump the collected suite items as JSON, run nothing.

Loaded with ``-p harness.cli.collect_plugin`` together with ``-p no:se_conformance`` and
``--collect-only``, so no target or database is ever started. Writes to ``$SE_CONFORMANCE_COLLECT``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.plugin.fixtures import requirement_ids
from harness.plugin.selection import capabilities_of, needs_of

COLLECT_ENV = "SE_CONFORMANCE_COLLECT"


def pytest_collection_finish(session: pytest.Session) -> None:
    target = os.environ.get(COLLECT_ENV)
    if not target:
        return
    items = [
        {
            "nodeid": item.nodeid,
            "requirements": list(requirement_ids(item)),
            "needs": sorted(needs_of(item)),
            "capabilities": sorted(capabilities_of(item)),
        }
        for item in session.items
    ]
    Path(target).write_text(json.dumps(items))
