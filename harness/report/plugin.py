"""pytest plugin: records every suite test's outcome and writes the conformance report.

Registered by ``harness.plugin`` in ``pytest_configure``; inert unless the run is a suite run (the
harness state exists) or ``--se-report-json`` is given.

Who does what under xdist:

* **workers** (or the only process without xdist) see the exceptions: ``pytest_runtest_makereport`` tags
  each report with the test's requirement IDs and, when something was raised, whether it was a product
  defect (an assertion) or a harness error. They also note the target's identity, the main SE's prefix
  and ``/api/v1/info``, and the capabilities seen in responses; at session end this goes to the
  controller through ``workeroutput``.
* **the controller** receives every report (``pytest_runtest_logreport``), aggregates, follows progress
  (``SE_CONFORMANCE_PROGRESS``) and at session end writes the JSON report and the Allure extras.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import harness
from harness.errors import HarnessError
from harness.expect import ConformanceFailure
from harness.plugin import options as opt
from harness.plugin.fixtures import JOURNAL_ATTR, requirement_ids
from harness.plugin.infra import profile_of
from harness.plugin.selection import apply_waivers, is_suite_item
from harness.plugin.state import STATE_KEY
from harness.report import allure, document, progress
from harness.report.outcomes import KIND_DEFECT, KIND_HARNESS, PhaseResult, TestRecord
from harness.report.waivers import SourcedWaiver, all_waivers, check_not_expired, load_waiver_file

WORKER_OUTPUT_KEY = "se_conformance_report"
REQUIREMENTS_PROPERTY = "requirements"  # also lands in junit.xml as a <property>
FAILURE_KIND_PROPERTY = "failure_kind"
ALLURE_DIR_DEST = "allure_report_dir"  # allure-pytest's --alluredir
CONTROLLER_PLUGIN = "se_conformance.report.controller"
DEFECT_PREFIX = f"{ConformanceFailure.__module__}.{ConformanceFailure.__name__}: "


@dataclass
class WorkerFacts:
    """What one worker saw of the target (plain data: it travels through execnet)."""

    identity: dict[str, Any] | None = None
    base_url: str | None = None
    prefix: str | None = None
    info: dict[str, Any] | None = None
    observed: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "base_url": self.base_url, "prefix": self.prefix,
                "info": self.info, "observed": sorted(self.observed)}  # fmt: skip


@dataclass
class Recorder:
    """The controller's view of the run."""

    started: float = field(default_factory=time.time)
    records: dict[str, TestRecord] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)
    collection_errors: list[str] = field(default_factory=list)
    total_announced: bool = False
    nodes: int = 0  # xdist workers that finished
    progress: progress.ProgressWriter | None = field(default_factory=progress.ProgressWriter.from_env)


FACTS_KEY = pytest.StashKey[WorkerFacts]()
FILE_WAIVERS_KEY = pytest.StashKey[list[SourcedWaiver]]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _suite_run(config: pytest.Config) -> bool:
    return STATE_KEY in config.stash


# -- configuration: the controller part, the waiver file ----------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    if not _is_worker(config) and not config.pluginmanager.has_plugin(CONTROLLER_PLUGIN):
        config.pluginmanager.register(ControllerPlugin(config), CONTROLLER_PLUGIN)
    waiver_file = config.getoption(opt.dest(opt.WAIVERS), None)
    if not waiver_file:
        return
    try:
        if _is_worker(config):
            sourced = [SourcedWaiver(w, str(waiver_file)) for w in load_waiver_file(waiver_file)]
        else:
            # Both sources at once, so the message lists every expired waiver (the harness checks the
            # profile's again at session start).
            check_not_expired(all_waivers(profile_of(config), waiver_file))
            sourced = [SourcedWaiver(w, str(waiver_file)) for w in load_waiver_file(waiver_file)]
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[FILE_WAIVERS_KEY] = sourced


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    sourced = config.stash.get(FILE_WAIVERS_KEY, [])
    if sourced and _suite_run(config):
        apply_waivers(items, tuple(s.waiver for s in sourced))


# -- workers: tag reports, observe the target ---------------------------------------------------------
def _failure_kind(call: pytest.CallInfo[None]) -> str | None:
    if call.excinfo is None or call.excinfo.errisinstance((pytest.skip.Exception, KeyboardInterrupt)):
        return None
    return KIND_DEFECT if call.excinfo.errisinstance((AssertionError, pytest.fail.Exception)) else KIND_HARNESS


def _observe(item: pytest.Item, facts: WorkerFacts) -> None:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    target, se = funcargs.get("se_target"), funcargs.get("se")
    if facts.identity is None and target is not None:
        with contextlib.suppress(Exception):
            facts.identity = dict(target.describe())
    if facts.base_url is None and se is not None:
        facts.base_url, facts.prefix = se.base_url, se.prefix or None
    for exchange in getattr(item, JOURNAL_ATTR, []):
        headers = {k.lower(): v for k, v in exchange.response_headers.items()}
        if headers.get("accept-ranges", "").lower() == "bytes" or exchange.status == 206:
            facts.observed.add("range")
        if "etag" in headers:
            facts.observed.add("etag")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    if not _suite_run(item.config) or not is_suite_item(item):
        return report
    if call.when == "setup" and not any(name == REQUIREMENTS_PROPERTY for name, _ in item.user_properties):
        item.user_properties.append((REQUIREMENTS_PROPERTY, " ".join(requirement_ids(item))))
        report.user_properties = list(item.user_properties)
    kind = _failure_kind(call)
    if kind is not None:
        report.user_properties = [*report.user_properties, (FAILURE_KIND_PROPERTY, kind)]
    if call.when in ("setup", "call"):
        _observe(item, item.config.stash.setdefault(FACTS_KEY, WorkerFacts()))
    return report


def _api_info(base_url: str) -> dict[str, Any] | None:
    try:
        resp = httpx.get(base_url + "/api/v1/info", timeout=5)
        body = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _finish_worker(config: pytest.Config) -> dict[str, Any] | None:
    """Before the harness stops the SE: its /api/v1/info, then the facts as plain data."""
    facts = config.stash.get(FACTS_KEY, None)
    if facts is None:
        return None
    if facts.base_url:
        facts.info = _api_info(facts.base_url)
    return facts.to_dict()


# -- controller: aggregate ----------------------------------------------------------------------------
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
    return text.removeprefix(DEFECT_PREFIX)[:2000]


def _phase(report: pytest.TestReport) -> PhaseResult:
    props = {str(k): str(v) for k, v in report.user_properties}
    return PhaseResult(
        when=report.when or "call", outcome=report.outcome, duration=float(report.duration or 0.0),
        failure_kind=props.get(FAILURE_KIND_PROPERTY), xfail_reason=getattr(report, "wasxfail", None),
        skip_reason=_skip_reason(report) if report.skipped else "", message=_message(report),
    )  # fmt: skip


def _worker_name(report: pytest.TestReport) -> str | None:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return str(getattr(gateway, "id", "")) or None


class ControllerPlugin:
    """Registered on the controller (or the only process) by this module's ``pytest_configure``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.recorder: Recorder | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if _suite_run(self.config) or self.config.getoption(opt.dest(opt.REPORT_JSON), None):
            self.recorder = Recorder()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        props = {str(k): str(v) for k, v in report.user_properties}
        record = recorder.records.setdefault(report.nodeid, TestRecord(report.nodeid, worker=_worker_name(report)))
        if not record.requirements and props.get(REQUIREMENTS_PROPERTY):
            record.requirements = tuple(props[REQUIREMENTS_PROPERTY].split())
        record.phases.append(_phase(report))
        if report.when == "teardown" and recorder.progress is not None:
            recorder.progress.emit(progress.TEST, nodeid=report.nodeid, outcome=record.outcome,
                                   requirements=list(record.requirements), message=record.message[:300])  # fmt: skip

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.recorder is not None and report.failed:
            self.recorder.collection_errors.append(f"{report.nodeid}: {str(report.longrepr)[-1500:]}")

    def _announce_total(self, total: int) -> None:
        recorder = self.recorder
        if recorder is not None and not recorder.total_announced and recorder.progress is not None:
            recorder.total_announced = True
            recorder.progress.emit(progress.COLLECTED, total=total)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._announce_total(len(session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._announce_total(len(ids))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if self.recorder is None:
            return
        self.recorder.nodes += 1
        output = getattr(node, "workeroutput", None) or {}
        if output.get(WORKER_OUTPUT_KEY):
            self.recorder.workers.append(output[WORKER_OUTPUT_KEY])

    @pytest.hookimpl(tryfirst=True)  # before harness.plugin's sessionfinish stops this process's SEs
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.recorder is None:
            return
        facts = _finish_worker(self.config) if _suite_run(self.config) else None
        if facts is not None:
            self.recorder.workers.append(facts)
        _write_outputs(self.config, self.recorder, int(exitstatus))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand what it saw of the target to the controller."""
    config = session.config
    if _is_worker(config) and _suite_run(config):
        facts = _finish_worker(config)
        if facts is not None:
            config.workeroutput[WORKER_OUTPUT_KEY] = facts  # type: ignore[attr-defined]


# -- controller: write ---------------------------------------------------------------------------------
def _docker_version() -> str | None:
    with contextlib.suppress(Exception):
        from harness.docker_util import client

        return str(client().version().get("Version"))
    return None


def run_facts(config: pytest.Config, recorder: Recorder, exitstatus: int) -> document.RunFacts:
    state = config.stash.get(STATE_KEY, None)
    shared = state.shared if state is not None else {}
    profile = profile_of(config)
    workers = [w for w in recorder.workers if w]
    kind = str(shared.get("kind") or "unknown")
    identity: dict[str, Any] = next((dict(w["identity"]) for w in workers if w.get("identity")), {"kind": kind})
    info = next((w["info"] for w in workers if w.get("info")), None)
    waivers = all_waivers(profile, None) + config.stash.get(FILE_WAIVERS_KEY, [])
    finished = time.time()
    return document.RunFacts(
        run_id=shared.get("run_id"),
        started_at=dt.datetime.fromtimestamp(recorder.started, dt.UTC).isoformat(),
        finished_at=dt.datetime.fromtimestamp(finished, dt.UTC).isoformat(),
        duration_s=finished - recorder.started,
        pytest_exit_status=exitstatus,
        profile=str(config.getoption(opt.dest(opt.PROFILE), "full")),
        workers=recorder.nodes,
        args=[str(a) for a in config.invocation_params.args],
        target={
            "kind": kind,
            "identity": identity,
            "info": info,
            "version": str(info["version"]) if info and info.get("version") is not None else None,
            "table_prefixes": sorted({str(w["prefix"]) for w in workers if w.get("prefix")}),
            "profile_name": profile.name,
            "profile_file": profile.source,
        },
        declared_capabilities=sorted(profile.capabilities),
        observed_capabilities=sorted({c for w in workers for c in w.get("observed", [])}),
        waivers=waivers,
        environment=document.environment(_docker_version() if kind == "docker" else None),
        collection_errors=recorder.collection_errors,
    )


def _write_outputs(config: pytest.Config, recorder: Recorder, exitstatus: int) -> None:
    facts = run_facts(config, recorder, exitstatus)
    report_path = config.getoption(opt.dest(opt.REPORT_JSON), None)
    if report_path:
        document.write(document.build(list(recorder.records.values()), facts), Path(report_path))
    alluredir = getattr(config.option, ALLURE_DIR_DEST, None)
    if alluredir:
        allure.write_extras(Path(alluredir), {
            "target": str(facts.target["identity"].get("image") or facts.target["identity"].get("command")
                          or facts.target["identity"].get("url") or facts.target["kind"]),
            "kind": facts.target["kind"],
            "prefix": ", ".join(facts.target["table_prefixes"]) or "-",
            "profile": facts.profile,
            "target.profile": facts.target["profile_name"],
            "target.version": str(facts.target["version"] or "-"),
            "suite.version": harness.__version__,
        })  # fmt: skip
    if recorder.progress is not None:
        recorder.progress.emit(progress.FINISHED, exit_status=exitstatus)
