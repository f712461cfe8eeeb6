"""pytest plugin of se-conformance (entry point ``se_conformance``).

Hooks stay thin: options live in ``options``, who-owns-what in ``infra``, fixtures in ``fixtures``,
selection in ``selection`` and failure reporting in ``reporting``.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.plugin import fixtures, options, reporting, selection
from harness.plugin.infra import SHARED_KEY, Controller
from harness.plugin.state import STATE_KEY, WorkerState

REPORTING_PLUGIN = "se_conformance.reporting"
SUITES_DIR = Path(__file__).resolve().parents[2] / "suites"
MARKERS = (
    "req(*ids): requirement IDs (suites/requirements.toml) that a conformance test checks",
    "needs(*facilities): harness facilities a test needs: db, fs, lifecycle, syscalls (--se-trace-syscalls)",
    "capability(name): optional SE capability a test needs (undeclared -> unsupported)",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def _suite_requested(config: pytest.Config) -> bool:
    """The plugin brings a target up only for runs that include the suite (or name a target).

    The fleet-wide checks (``--se-fleet``) look at deployed SEs named in the fleet file: no target.
    """
    if config.getoption(options.dest(options.FLEET), None) is not None:
        return False
    if config.getoption(options.dest(options.TARGET)) is not None:
        return True
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == SUITES_DIR or SUITES_DIR in path.parents:
            return True
    return False


def _raise_on_sigterm(signum: int, frame: Any) -> None:
    # CI systems stop jobs with SIGTERM; make it behave like Ctrl-C so pytest_unconfigure cleans up.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.pluginmanager.register(fixtures, "se_conformance.fixtures")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if SHARED_KEY in workerinput:
            config.stash[STATE_KEY] = WorkerState(config, workerinput[SHARED_KEY])
        _register_reporting(config)
        return
    # Collecting only (e.g. `se-conformance list`) must not start anything.
    if _suite_requested(config) and not config.option.collectonly:
        try:
            controller = Controller(config)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from exc
        if controller.kind.single_se and (getattr(config.option, "numprocesses", None) or 0) > 1:
            # Workers would share the one deployed SE and see each other's files in counts and lists.
            raise pytest.UsageError(
                f"the {controller.kind.name} target is one SE shared by every worker; parallel workers give "
                "false failures\n"
                f"  expected: -n 0 or -n 1 with --se-target {controller.kind.name}\n"
                "  hint: parallel runs need an SE per worker: use the docker or local target"
            )
        config.stash[STATE_KEY] = WorkerState(config, {}, controller=controller)
    _register_reporting(config)


def _register_reporting(config: pytest.Config) -> None:
    # After the state exists: the reporting layer's own pytest_configure reads it (waivers, suite run).
    if not config.pluginmanager.has_plugin(REPORTING_PLUGIN):
        config.pluginmanager.register(reporting, REPORTING_PLUGIN)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # tryfirst: before xdist's own sessionstart creates the workers, which need the shared data.
    state = session.config.stash.get(STATE_KEY, None)
    if state is None or state.controller is None:
        return
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        state.shared.update(state.controller.start())
    except HarnessError as exc:
        state.controller.stop()
        raise pytest.UsageError(str(exc)) from exc


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash.get(STATE_KEY, None)
    if state is not None:
        node.workerinput[SHARED_KEY] = state.shared


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STATE_KEY not in config.stash:
        return
    only = config.getoption(options.dest(options.ONLY_REQ)) or ""
    wanted = frozenset(r.strip() for r in only.split(",") if r.strip())
    selection.select(items, config.getoption(options.dest(options.PROFILE)), config, wanted)


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash.get(STATE_KEY, None)
    if state is None or not selection.is_suite_item(item):
        return
    # Label first: an unsupported test still belongs under its requirement in the Allure tree.
    reporting.label_for_allure(item)
    reason = selection.unsupported_reason(item, state.target())
    if reason:
        pytest.skip(reason)


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None and state.controller is not None:
        state.controller.stop()
