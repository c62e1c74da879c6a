"""Parse a hand-written unit list such as "2:0-31, 3:7" into (layer, unit) pairs (no Streamlit here)."""

from __future__ import annotations

from cluster.errors import ClusterError

UNITS_HELP = 'comma-separated "layer:unit" or "layer:first-last", e.g. "2:0-31, 3:7"'


def _span(text: str) -> range:
    first, _, last = text.partition("-")
    lo = int(first)
    hi = int(last) if last else lo
    if hi < lo:
        raise ValueError
    return range(lo, hi + 1)


def parse_units(text: str) -> tuple[tuple[int, int], ...]:
    """``"2:0-3, 3:7"`` -> ``((2, 0), (2, 1), (2, 2), (2, 3), (3, 7))``; ClusterError explains a bad item."""
    pairs: list[tuple[int, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        layer, sep, units = item.partition(":")
        try:
            if not sep:
                raise ValueError
            pairs += [(int(layer), u) for u in _span(units.strip())]
        except ValueError:
            raise ClusterError(f"cannot read {item!r} as units; write {UNITS_HELP}") from None
    if not pairs:
        raise ClusterError(f"no units given; write {UNITS_HELP}")
    return tuple(dict.fromkeys(pairs))
