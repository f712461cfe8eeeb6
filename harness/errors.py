"""Errors raised by the harness itself.

A harness error is never a verdict on the target: the plugin reports it as an *error* (exit code 2 in
the command line), not as a failed requirement. Each message says what happened, what was expected and
what to do, in that order, like httpx's exceptions.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Something in the harness or its infrastructure went wrong (not the target's fault)."""

    def __init__(self, what: str, *, expected: str | None = None, hint: str | None = None) -> None:
        self.what = what
        self.expected = expected
        self.hint = hint
        parts = [what]
        if expected:
            parts.append(f"expected: {expected}")
        if hint:
            parts.append(f"hint: {hint}")
        super().__init__("\n  ".join(parts))


class ConfigurationError(HarnessError):
    """A bad option, profile file or environment: the user can fix it."""


class Unsupported(HarnessError):
    """This target or this machine cannot provide what a test needs (e.g. storage unwritable for root):
    the test is reported *unsupported* (a skip whose reason starts with ``unsupported:``), never passed."""


class TargetNotReady(HarnessError):
    """A target did not become ready before its deadline."""


class DockerUnavailable(HarnessError):
    """No Docker engine answers."""
