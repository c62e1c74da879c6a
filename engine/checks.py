"""Checks shared by every intervention and by the engine's layer arguments, with the fix in every message.

Each intervention checks itself (``Intervention.check``); these are the pieces they share.
"""

from __future__ import annotations

import math
import operator
from typing import Sequence

from engine.errors import InterventionError, OutOfRangeError, shorten


def about(what: object) -> str:
    """A short name for an intervention (or any argument) in a message: its ``about()`` where it has one
    (a repr may hold thousands of units), else its repr, shortened."""
    describe = getattr(what, "about", None)
    return describe() if callable(describe) else shorten(repr(what), 60)


def check_layer(layer: int, n_layers: int, what: object = None) -> int:
    """``layer`` as an int (numpy integers too); OutOfRangeError unless ``0 <= layer < n_layers``.

    The one layer check: the engine, its traces and every package call it.
    """
    index = None if isinstance(layer, bool) or not hasattr(layer, "__index__") else operator.index(layer)
    if index is None or not 0 <= index < n_layers:
        where = "" if what is None else f" (in {about(what)})"
        raise OutOfRangeError(f"layer {layer!r} does not exist; this model has layers 0-{n_layers - 1}{where}")
    return index


def check_layers(layers: Sequence[int] | None, n_layers: int) -> tuple[int, ...]:
    """``layers`` (default: all) checked, without repeats and sorted; OutOfRangeError when none is chosen."""
    layers = tuple(range(n_layers)) if layers is None else tuple(sorted({check_layer(l, n_layers) for l in layers}))
    if not layers:
        raise OutOfRangeError(f"no layers chosen; this model has layers 0-{n_layers - 1}")
    return layers


def check_head(head: int, n_heads: int) -> None:
    """OutOfRangeError unless ``head`` is an int in ``0..n_heads-1``."""
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < n_heads:
        raise OutOfRangeError(f"head {head!r} does not exist; this model has heads 0-{n_heads - 1}")


def check_finite(value: float, name: str, what: object) -> None:
    """InterventionError naming ``name`` and the intervention ``what`` unless ``value`` is finite."""
    if not math.isfinite(float(value)):
        raise InterventionError(f"{name} must be a finite number, got {value!r} (in {about(what)})")


def resolve_positions(positions: str | Sequence[int], n_pos: int) -> tuple[int, ...]:
    """"all", "last" or explicit positions (negative from the end) -> sorted absolute positions."""
    if positions == "all":
        return tuple(range(n_pos))
    if positions == "last":
        return (n_pos - 1,)
    if isinstance(positions, str):
        raise InterventionError(f"positions must be 'all', 'last' or a tuple of ints, got {shorten(repr(positions))}")
    resolved = set()
    for p in positions:
        if isinstance(p, bool) or not isinstance(p, int) or not -n_pos <= p < n_pos:
            raise OutOfRangeError(
                f"position {p!r} does not exist; this prompt has positions 0-{n_pos - 1} "
                f"(or -{n_pos} to -1 from the end)")
        resolved.add(p % n_pos)
    return tuple(sorted(resolved))


def generation_positions(positions: str | Sequence[int], n_prompt: int, n_total: int) -> tuple[int, ...]:
    """Absolute positions an intervention's ``positions`` covers in a generation of ``n_total`` positions
    after a prompt of ``n_prompt``: "all" every position, "last" the prompt's last and every generated
    one, explicit ones the prompt's only (see ``engine.generate``)."""
    if positions == "all":
        return tuple(range(n_total))
    if positions == "last":
        return tuple(range(n_prompt - 1, n_total))
    return resolve_positions(positions, n_prompt)
