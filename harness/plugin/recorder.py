"""The controller's side of the reporting layer: aggregate the workers' reports, write the outputs.

Workers note what they saw of the target (``observe``) and hand it over at session end through
``workeroutput``; the controller turns every phase report into ``TestRecord`` values and, at session
end, writes the JSON report, the Allure extras and the last progress event.

What it reads of the run is narrow: the shared run description (``WorkerState.shared``: run id and
target kind), the profile in force and the waivers — never the target objects themselves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import harness
from harness.plugin import options as opt
from harness.plugin.fixtures import JOURNAL_ATTR
from harness.plugin.infra import profile_of
from harness.plugin.reporting import WORKER_OUTPUT_KEY, phase_of, requirements_of, suite_run, waivers_of
from harness.plugin.state import STATE_KEY
from harness.report import allure, document, progress
from harness.report.outcomes import TestRecord

ALLURE_DIR_DEST = "allure_report_dir"  # allure-pytest's --alluredir


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


FACTS_KEY = pytest.StashKey[WorkerFacts]()


def observe(item: pytest.Item) -> None:
    """Note what the target showed of itself in this test: identity, main prefix, optional capabilities."""
    facts = item.config.stash.setdefault(FACTS_KEY, WorkerFacts())
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


def _api_info(base_url: str) -> dict[str, Any] | None:
    try:
        resp = httpx.get(base_url + "/api/v1/info", timeout=5)
        body = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def finish_worker(config: pytest.Config) -> dict[str, Any] | None:
    """Before the harness stops the SE: its /api/v1/info, then the facts as plain data."""
    facts = config.stash.get(FACTS_KEY, None)
    if facts is None:
        return None
    if facts.base_url:
        facts.info = _api_info(facts.base_url)
    return facts.to_dict()


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


def _worker_name(report: pytest.TestReport) -> str | None:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return str(getattr(gateway, "id", "")) or None


class ControllerPlugin:
    """Registered on the controller (or the only process) by ``harness.plugin.reporting``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.recorder: Recorder | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if suite_run(self.config) or self.config.getoption(opt.dest(opt.REPORT_JSON), None):
            self.recorder = Recorder()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        record = recorder.records.setdefault(report.nodeid, TestRecord(report.nodeid, worker=_worker_name(report)))
        if not record.requirements:
            record.requirements = requirements_of(report)
        record.phases.append(phase_of(report))
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
        facts = finish_worker(self.config) if suite_run(self.config) else None
        if facts is not None:
            self.recorder.workers.append(facts)
        write_outputs(self.config, self.recorder, int(exitstatus))


# -- write ---------------------------------------------------------------------------------------------
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
        waivers=waivers_of(config),
        environment=document.environment(_docker_version() if kind == "docker" else None),
        collection_errors=recorder.collection_errors,
    )


def write_outputs(config: pytest.Config, recorder: Recorder, exitstatus: int) -> None:
    facts = run_facts(config, recorder, exitstatus)
    report_path = config.getoption(opt.dest(opt.REPORT_JSON), None)
    if report_path:
        document.write(document.build(list(recorder.records.values()), facts), Path(report_path))
    alluredir = getattr(config.option, ALLURE_DIR_DEST, None)
    if alluredir:
        identity = facts.target["identity"]
        shown = identity.get("image") or identity.get("command") or identity.get("url") or facts.target["kind"]
        allure.write_extras(Path(alluredir), {
            "target": str(shown),
            "kind": facts.target["kind"],
            "prefix": ", ".join(facts.target["table_prefixes"]) or "-",
            "profile": facts.profile,
            "target.profile": facts.target["profile_name"],
            "target.version": str(facts.target["version"] or "-"),
            "suite.version": harness.__version__,
        })  # fmt: skip
    if recorder.progress is not None:
        recorder.progress.emit(progress.FINISHED, exit_status=exitstatus)
