"""Who computes a sweep's chunks: this process (:class:`LocalRunner`) or Ray workers (``sweeps.EnginePool``).

A runner has one method, ``map(task, chunks, *args)``, yielding ``(chunk, task(engine, chunk, *args))``
for every chunk exactly once, in any order. A chunk is one batch (one task on Ray), so a cell's
value is the same whoever computes it. ``task`` is a module-level function (Ray sends it by reference).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, Sequence


class Runner(Protocol):
    """Computes chunks of cells: ``map(task, chunks, *args)`` yields ``(chunk, values)`` per chunk."""

    def map(self, task: Callable[..., Any], items: Sequence[Any], *args: Any) -> Iterator[tuple[Any, Any]]:
        ...


class LocalRunner:
    """Every chunk in this process, one batch each, in order."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def map(self, task: Callable[..., Any], items: Sequence[Any], *args: Any) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, task(engine, item, *args))`` for each item, in order."""
        for item in items:
            yield item, task(self.engine, item, *args)
