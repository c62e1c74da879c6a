"""Fixed chunks of a sweep's grid: which cells share a batch depends only on the grid, never on what a
rerun still lacks, so a resumed sweep computes every cell in the batch an uninterrupted one did.

Float sums in a batched forward may round differently with another batch around a cell (the
kernels block the work by batch size), so a cell's value is only reproducible with its batch.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def fixed_chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` cut every ``size`` items from the first: the same chunks in every run over the same grid."""
    if size < 1:
        raise ValueError(f"a chunk holds at least one item, got {size}")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def chunks_to_run(items: Sequence[T], size: int, done: Callable[[T], bool]) -> list[list[T]]:
    """The fixed chunks holding an item not ``done``, whole: a resume recomputes them and writes only the missing."""
    return unfinished(fixed_chunks(items, size), done)


def unfinished(chunks: Sequence[Sequence[T]], done: Callable[[T], bool]) -> list[Sequence[T]]:
    """The chunks holding an item not ``done``, whole, in order."""
    return [chunk for chunk in chunks if not all(done(item) for item in chunk)]
