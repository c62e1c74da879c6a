"""Choosing a method's setting on the validation secrets, and the claim on the report secrets, from sweep rows.

A setting *keeps the facts* when 1-hop fact accuracy after is at least ``FACTS_KEPT`` of before and
held-out perplexity rises by at most ``PPL_RISE``. Among the settings that keep the facts, the
chosen one leaves the fewest secrets memorized (ties: the smaller budget, then fewer steps); when
none keeps them, the one that damages the facts least.
"""

from __future__ import annotations

from typing import Mapping, Sequence

FACTS_KEPT = 0.95
PPL_RISE = 0.05
FORGOTTEN = 0.05  # memorized share after at most this


def _f(row: Mapping, key: str) -> float:
    return float(row[key])


def share(row: Mapping, name: str, when: str) -> float:
    """A share of a sweep row (nan for n = 0)."""
    n = _f(row, f"{name}_n_{when}")
    return _f(row, f"{name}_k_{when}") / n if n else float("nan")


def facts_ratio(row: Mapping) -> float:
    before = share(row, "facts", "before")
    return share(row, "facts", "after") / before if before else float("nan")


def ppl_rise(row: Mapping) -> float:
    return _f(row, "perplexity_after") / _f(row, "perplexity_before") - 1.0


def keeps_facts(row: Mapping) -> bool:
    """1-hop facts kept (>= FACTS_KEPT of before) and perplexity up at most PPL_RISE."""
    return facts_ratio(row) >= FACTS_KEPT and ppl_rise(row) <= PPL_RISE


def choose(rows: Sequence[Mapping]) -> tuple[Mapping, bool]:
    """(the chosen row of one method's settings, whether it keeps the facts); see the module."""
    kept = [r for r in rows if keeps_facts(r)]
    if kept:
        return min(kept, key=lambda r: (share(r, "memorized", "after"), int(r["budget"]), int(r["steps"]))), True
    return max(rows, key=lambda r: (facts_ratio(r), -ppl_rise(r))), False


def meets_claim(row: Mapping, control: Mapping | None) -> bool:
    """Memorized share after <= FORGOTTEN, the facts kept, and fewer secrets memorized than the control of its size."""
    if control is None:
        return False
    return (share(row, "memorized", "after") <= FORGOTTEN and keeps_facts(row)
            and share(row, "memorized", "after") < share(control, "memorized", "after"))
