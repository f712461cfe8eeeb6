"""Two operators cosmic-ray's core lacks, as an operator provider named ``se``: removed calls, return values.

* ``se/RemoveCall`` — a call made as a statement of its own (``session.add(row)``, ``await f()``,
  ``os.fsync(fd)``) becomes ``None``: the call is removed, the statement stays valid.
* ``se/ReturnNone`` — ``return <value>`` becomes ``return None`` (a bare ``return`` and ``return None``
  are left alone).

cosmic-ray finds operator providers through the ``cosmic_ray.operator_providers`` entry point; this
project does not install ``bench/``, so :func:`register` adds the provider to the engine's registry at
run time. Every process that enumerates or applies mutations must call it first: ``init`` (session) and
``worker`` (HTTP worker) of ``bench/mutation_score.py`` do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cosmic_ray.plugins
from cosmic_ray.operators.operator import Example, Operator
from parso.python.tree import Keyword

PROVIDER = "se"
_CALL_NODES = ("atom_expr", "power")
Position = tuple[tuple[int, int], tuple[int, int]]


def _is_call_statement(node: Any) -> bool:
    """An expression statement whose whole expression is a call (``f(x)``, ``a.b(c)``, ``await f()``)."""
    if getattr(node, "type", None) not in _CALL_NODES or getattr(node.parent, "type", None) != "simple_stmt":
        return False
    last = node.children[-1]
    return bool(last.type == "trailer" and last.children[0].value == "(")


class RemoveCall(Operator):
    """A call made as a statement is removed (replaced by ``None``)."""

    def mutation_positions(self, node: Any) -> Iterator[Position]:
        if _is_call_statement(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        assert index == 0
        assert _is_call_statement(node)
        return Keyword("None", node.start_pos, prefix=node.get_first_leaf().prefix)

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (
            Example("f(x)\n", "None\n"),
            Example("def g():\n    a.b(c)\n    return 1\n", "def g():\n    None\n    return 1\n"),
            Example("async def g():\n    await f()\n", "async def g():\n    None\n"),
            Example("y = f(x)\n", "y = f(x)\n"),
        )


def _returns_a_value(node: Any) -> bool:
    if getattr(node, "type", None) != "return_stmt":
        return False
    value = node.children[1]
    return not (value.type == "keyword" and value.value == "None")


class ReturnNone(Operator):
    """``return <value>`` returns ``None`` instead."""

    def mutation_positions(self, node: Any) -> Iterator[Position]:
        if _returns_a_value(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        assert index == 0
        assert _returns_a_value(node)
        value = node.children[1]
        node.children[1] = Keyword("None", value.start_pos, prefix=" ")
        node.children[1].parent = node
        return node

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (
            Example("def f():\n    return x + 1\n", "def f():\n    return None\n"),
            Example("def f():\n    return None\n", "def f():\n    return None\n"),
            Example("def f():\n    return\n", "def f():\n    return\n"),
        )


_OPERATORS: dict[str, type[Operator]] = {"RemoveCall": RemoveCall, "ReturnNone": ReturnNone}


class Provider:
    """The ``se`` operator provider: cosmic-ray iterates it for names and indexes it for classes."""

    def __iter__(self) -> Iterator[str]:
        return iter(_OPERATORS)

    def __getitem__(self, name: str) -> type[Operator]:
        return _OPERATORS[name]


def register() -> None:
    """Add the ``se`` provider to cosmic-ray's registry (idempotent)."""
    cosmic_ray.plugins.OPERATOR_PROVIDERS.setdefault(PROVIDER, Provider())
