"""Unit lists written by hand, such as "2:0-31, 3:7": read them (bounded before anything is built)
and write them back in their shortest form.

A cluster address (``units:<list>[@site]``, see :func:`cluster.spec.cluster_from_address`) is one of
these lists behind ``units:``; ``--cluster`` and ``load_cluster`` take it.
"""

from __future__ import annotations

from cluster.errors import ClusterError

UNITS_HELP = 'comma-separated "layer:unit" or "layer:first-last", e.g. "2:0-31, 3:7"'
UNITS_PREFIX = "units:"
# Far above any real model's layers x width of a cluster, and checked before anything is
# allocated, so a typed or linked "3:0-3000000000" is refused at once.
MAX_UNITS = 65_536
MAX_INDEX = 1_000_000
MAX_TEXT = 20_000


def _number(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 7 or int(text) > MAX_INDEX:
        raise ValueError
    return int(text)


def _span(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    lo = _number(first)
    hi = _number(last) if last else lo
    if hi < lo:
        raise ValueError
    return lo, hi


def parse_units(text: str) -> tuple[tuple[int, int], ...]:
    """``"2:0-3, 3:7"`` -> ``((2, 0), (2, 1), (2, 2), (2, 3), (3, 7))``; ClusterError explains a bad item.

    Sizes are checked before any list is built: at most ``MAX_UNITS`` units in all.
    """
    if len(text) > MAX_TEXT:
        raise ClusterError(f"the unit list has {len(text):,} characters; write at most {MAX_TEXT:,} ({UNITS_HELP})")
    spans: list[tuple[int, int, int]] = []
    total = 0
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        layer, sep, units = item.partition(":")
        try:
            if not sep:
                raise ValueError
            lo, hi = _span(units)
            spans.append((_number(layer), lo, hi))
        except ValueError:
            raise ClusterError(f"cannot read {item[:40]!r} as units (layers and units are whole numbers "
                               f"from 0 to {MAX_INDEX:,}); write {UNITS_HELP}") from None
        total += hi - lo + 1
        if total > MAX_UNITS:
            raise ClusterError(f"the unit list names more than {MAX_UNITS:,} units; a cluster is a small set "
                               f"of units: shorten the ranges")
    if not spans:
        raise ClusterError(f"no units given; write {UNITS_HELP}")
    pairs = [(layer, u) for layer, lo, hi in spans for u in range(lo, hi + 1)]
    return tuple(dict.fromkeys(pairs))


def format_units(neurons: tuple[tuple[int, int], ...]) -> str:
    """The shortest unit list for ``neurons``: runs of units become ranges, e.g. ``"2:0-31,3:7"``."""
    runs: list[list[int]] = []  # [layer, first, last]
    for layer, unit in sorted(neurons):
        if runs and runs[-1][0] == layer and runs[-1][2] == unit - 1:
            runs[-1][2] = unit
        else:
            runs.append([layer, unit, unit])
    return ",".join(f"{layer}:{lo}" if lo == hi else f"{layer}:{lo}-{hi}" for layer, lo, hi in runs)
