"""The reporting layer of the plugin: checks → per-requirement outcomes → JSON report, JUnit, Allure.

Who does what under xdist:

* **workers** (or the only process without xdist) run the tests. Each test gets a check ledger
  (``harness.ledger``) for its three phases; ``pytest_runtest_makereport`` tags each phase's report
  with the requirements whose checks passed, the requirement whose check failed, and what a raised
  exception means (a product defect, a blocked preparation, a harness error). A failed check of a
  waived requirement — and only such a one — turns the test into an xfail. Allure gets a step per check
  and per HTTP exchange as they happen, and on failure the exchanges and the SE's log tail.
* **the controller** receives every report (``pytest_runtest_logreport``), aggregates them into
  ``TestRecord`` values and at session end writes the report (``harness.plugin.report_writer``).

Pure decisions (what an outcome is, the verdict) live in ``harness.report``; this module only moves
facts out of pytest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import allure
import pytest
from allure_commons.types import AttachmentType

from harness import catalogue, ledger
from harness.client import Exchange
from harness.errors import HarnessError
from harness.expect import Blocked, ConformanceFailure
from harness.plugin import options as opt
from harness.plugin.fixtures import JOURNAL_ATTR, SES_ATTR
from harness.plugin.infra import profile_of
from harness.plugin.selection import is_suite_item, requirement_ids
from harness.plugin.state import STATE_KEY
from harness.report.allure_steps import check_step
from harness.report.outcomes import KIND_BLOCKED, KIND_DEFECT, KIND_HARNESS, PhaseResult
from harness.report.waivers import SourcedWaiver, active_waivers

WORKER_OUTPUT_KEY = "se_conformance_report"
REQUIREMENTS_PROPERTY = "requirements"  # also lands in junit.xml as a <property>
FAILURE_KIND_PROPERTY = "failure_kind"
PASSED_CHECKS_PROPERTY = "passed_checks"
FAILED_CHECK_PROPERTY = "failed_check"
FAILED_LABEL_PROPERTY = "failed_label"
CONTROLLER_PLUGIN = "se_conformance.report.controller"
DEFECT_PREFIX = f"{ConformanceFailure.__module__}.{ConformanceFailure.__name__}: "
BLOCKED_PREFIX = f"{Blocked.__module__}.{Blocked.__name__}: "
SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}
SETUP_ARRANGEMENT = "fixtures"  # a check in a fixture prepares the test
LEDGER_KEY = pytest.StashKey[ledger.Ledger]()
WAIVERS_KEY = pytest.StashKey[list[SourcedWaiver]]()


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def suite_run(config: pytest.Config) -> bool:
    return STATE_KEY in config.stash


def waivers_of(config: pytest.Config) -> list[SourcedWaiver]:
    """The run's waivers (profile + ``--se-waivers``), checked for expiry once per process."""
    return config.stash.get(WAIVERS_KEY, [])


# -- configuration ------------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    if not is_worker(config) and not config.pluginmanager.has_plugin(CONTROLLER_PLUGIN):
        from harness.plugin.recorder import ControllerPlugin

        config.pluginmanager.register(ControllerPlugin(config), CONTROLLER_PLUGIN)
    if not suite_run(config) and not config.getoption(opt.dest(opt.WAIVERS), None):
        return
    try:
        config.stash[WAIVERS_KEY] = active_waivers(profile_of(config), config.getoption(opt.dest(opt.WAIVERS), None))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from exc


# -- workers: one ledger per test ----------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    if not (suite_run(item.config) and is_suite_item(item)):
        return (yield)
    book = ledger.Ledger(on_check=check_step)
    item.stash[LEDGER_KEY] = book
    ledger.activate(book)
    try:
        return (yield)
    finally:
        ledger.activate(None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _preparing(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    return (yield from _preparing(item))


def _preparing(item: pytest.Item) -> Generator[None, Any, Any]:
    """Checks in fixtures (set-up and tear-down) prepare the test: they count for no requirement."""
    book = item.stash.get(LEDGER_KEY, None)
    if book is None:
        return (yield)
    book.arranging.append(SETUP_ARRANGEMENT)
    try:
        return (yield)
    finally:
        book.arranging.pop()


# -- workers: tag reports ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Classified:
    kind: str | None = None
    failed_check: str | None = None
    label: str | None = None


def classify(call: pytest.CallInfo[None]) -> Classified:
    """What the exception that ended a phase means."""
    exc = call.excinfo
    if exc is None or exc.errisinstance((pytest.skip.Exception, KeyboardInterrupt)):
        return Classified()
    if exc.errisinstance(Blocked):
        return Classified(KIND_BLOCKED)
    if exc.errisinstance(ConformanceFailure):
        if call.when != "call":  # a check in a fixture failed: the preparation did
            return Classified(KIND_BLOCKED)
        failure: ConformanceFailure = exc.value  # type: ignore[assignment]
        return Classified(KIND_DEFECT, failure.requirement, failure.kind)
    # Anything else — a bare assert of the suite, a KeyError on an odd answer — is no verdict on the SE.
    return Classified(KIND_HARNESS)


def _waive(report: pytest.TestReport, req: str, waivers: list[SourcedWaiver]) -> None:
    """A failed check of a waived requirement is expected: the test becomes an xfail (only for it)."""
    found = next((s.waiver for s in waivers if s.waiver.requirement == req), None)
    if found is None:
        return
    report.outcome = "skipped"
    report.wasxfail = f"waived {req} until {found.expires}: {found.reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    if not suite_run(item.config) or not is_suite_item(item):
        return report
    if call.when == "setup" and not any(name == REQUIREMENTS_PROPERTY for name, _ in item.user_properties):
        item.user_properties.append((REQUIREMENTS_PROPERTY, " ".join(requirement_ids(item))))
        report.user_properties = list(item.user_properties)
    book = item.stash.get(LEDGER_KEY, None)
    checks = book.drain() if book is not None else []
    passed = sorted({c.requirement for c in checks if c.passed and not c.arranging})
    found = classify(call)
    extra: list[tuple[str, str]] = [(PASSED_CHECKS_PROPERTY, " ".join(passed))] if passed else []
    if found.kind is not None:
        extra.append((FAILURE_KIND_PROPERTY, found.kind))
    if found.failed_check is not None:
        extra += [(FAILED_CHECK_PROPERTY, found.failed_check), (FAILED_LABEL_PROPERTY, found.label or "")]
        _waive(report, found.failed_check, waivers_of(item.config))
    report.user_properties = [*report.user_properties, *extra]
    if report.when == "call" and report.failed:
        attach_failure(item, report)
    if call.when in ("setup", "call"):
        from harness.plugin.recorder import observe

        observe(item)
    return report


# -- Allure and the terminal: what a failing test carries ---------------------------------------------
def transcript(exchanges: list[Exchange], last: int = 6) -> str:
    return "\n\n".join(f"{e.describe()}\nreproduce: {e.curl()}" for e in exchanges[-last:])


def se_logs(item: pytest.Item, lines: int = 40) -> str:
    handles = {id(h): h for h in getattr(item, SES_ATTR, [])}
    return "\n".join(f"--- {h.name} ({h.base_url}) ---\n{h.logs(lines)}" for h in handles.values())


def attach_failure(item: pytest.Item, report: pytest.TestReport) -> None:
    exchanges: list[Exchange] = getattr(item, JOURNAL_ATTR, [])
    if exchanges:
        text = transcript(exchanges)
        report.sections.append(("se-conformance: HTTP exchanges", text))
        allure.attach(text, name="HTTP exchanges (curl reproducers)", attachment_type=AttachmentType.TEXT)
    logs = se_logs(item)
    if logs:
        report.sections.append(("se-conformance: SE log tail", logs))
        allure.attach(logs, name="SE log tail", attachment_type=AttachmentType.TEXT)


def label_for_allure(item: pytest.Item) -> None:
    """allure.id = the test's primary requirement; epic/feature/story = area / module / requirement."""
    ids = requirement_ids(item)
    if not ids:
        return
    reqs = catalogue.load()
    first = reqs.get(ids[0])
    allure.dynamic.id(ids[0])
    for req_id in ids:
        allure.dynamic.tag(req_id)
    if first is not None:
        allure.dynamic.epic(first.area)
        allure.dynamic.story(f"{first.id} {first.title}")
        allure.dynamic.severity(SEVERITY[first.level])
        allure.dynamic.description(first.text)
    with contextlib.suppress(AttributeError):
        allure.dynamic.feature(item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))  # type: ignore[attr-defined]


# -- controller: a report → a phase --------------------------------------------------------------------
def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple | list) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _message(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    if report.skipped:
        return "" if hasattr(report, "wasxfail") else _skip_reason(report)
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or report.longreprtext)
    # A product defect's text names its requirement already; the exception's class is noise there.
    return text.removeprefix(DEFECT_PREFIX).removeprefix(BLOCKED_PREFIX)[:2000]


def phase_of(report: pytest.TestReport) -> PhaseResult:
    props = {str(k): str(v) for k, v in report.user_properties}
    return PhaseResult(
        when=report.when or "call", outcome=report.outcome, duration=float(report.duration or 0.0),
        failure_kind=props.get(FAILURE_KIND_PROPERTY), xfail_reason=getattr(report, "wasxfail", None),
        skip_reason=_skip_reason(report) if report.skipped else "", message=_message(report),
        passed_checks=tuple(props.get(PASSED_CHECKS_PROPERTY, "").split()),
        failed_check=props.get(FAILED_CHECK_PROPERTY) or None, failed_label=props.get(FAILED_LABEL_PROPERTY) or None,
    )  # fmt: skip


def requirements_of(report: pytest.TestReport) -> tuple[str, ...]:
    props = {str(k): str(v) for k, v in report.user_properties}
    return tuple(props.get(REQUIREMENTS_PROPERTY, "").split())


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand what it saw of the target to the controller."""
    config = session.config
    if is_worker(config) and suite_run(config):
        from harness.plugin.recorder import finish_worker

        facts = finish_worker(config)
        if facts is not None:
            config.workeroutput[WORKER_OUTPUT_KEY] = facts  # type: ignore[attr-defined]
