"""Allure steps written while a test runs: one per check (``[SE-FILE-001] upload is 201``) and one per
HTTP exchange, in the order they happen, so the failed requirement shows on the failed step.

Both are no-ops when allure-pytest is not active (allure-commons finds no listener).
"""

from __future__ import annotations

import allure
from allure_commons.types import AttachmentType

from harness.client import Exchange
from harness.ledger import Check

PREPARING = "(preparing) "


class _StepFailed(AssertionError):
    """Raised inside a step so Allure marks it failed; caught right there."""


def check_step(check: Check) -> None:
    title = (PREPARING if check.arranging else "") + check.what.splitlines()[0][:300]
    try:
        with allure.step(title):
            if not check.passed:
                raise _StepFailed(check.what)
    except _StepFailed:
        pass


def exchange_step(exchange: Exchange) -> None:
    path = exchange.url.split("://", 1)[-1].split("/", 1)[-1]
    with allure.step(f"{exchange.method} /{path} → {exchange.status or exchange.error}"):
        allure.attach(exchange.describe() + "\n\nreproduce: " + exchange.curl(), name="exchange",
                      attachment_type=AttachmentType.TEXT)  # fmt: skip
