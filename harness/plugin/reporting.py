"""What a failing test carries: its HTTP exchanges with curl reproducers and the SE's last log lines.

Attached to the terminal report (a section) and, when allure-pytest is active, to the Allure result.
Allure's ids and labels come from the requirement catalogue.
"""

from __future__ import annotations

import contextlib

import allure
import pytest
from allure_commons.types import AttachmentType

from harness import catalogue
from harness.client import Exchange
from harness.plugin.fixtures import JOURNAL_ATTR, SES_ATTR
from harness.plugin.selection import requirement_ids

SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}



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
    """allure.id = requirement ID; epic/feature/story = area / test module / requirement; severity by level."""
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


def exchange_step(exchange: Exchange) -> None:
    """One Allure step per HTTP exchange, with the exchange attached."""
    path = exchange.url.split("://", 1)[-1].split("/", 1)[-1]
    with allure.step(f"{exchange.method} /{path} → {exchange.status or exchange.error}"):
        allure.attach(exchange.describe() + "\n\nreproduce: " + exchange.curl(), name="exchange",
                      attachment_type=AttachmentType.TEXT)  # fmt: skip
