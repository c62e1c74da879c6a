"""Summaries of sweep rows: one line per method, the table the bench and the CLI print."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edit.score import EditScores


@dataclass(frozen=True)
class MethodSummary:
    """Means over a method's edits; halving intensities are medians (inf counts as never halving)."""

    label: str
    n: int
    efficacy: float
    generalisation: float
    specificity: float
    damage: float
    halving_edited: float
    halving_learned: float
    halving_edited_random: float

    @property
    def robustness(self) -> float:
        """Edited over learned halving intensity: 1.0 means the edit is as robust as a learned fact."""
        return self.halving_edited / self.halving_learned if self.halving_learned else math.nan


def _mean(rows: Sequence[dict], name: str) -> float:
    values = [float(r[name]) for r in rows if not math.isnan(float(r[name]))]
    return float(np.mean(values)) if values else math.nan


def _median(rows: Sequence[dict], name: str) -> float:
    values = [float(r[name]) for r in rows if not math.isnan(float(r[name]))]
    return float(np.median(values)) if values else math.nan


def share(value: float) -> str:
    """A share as a percentage, or ``n/a`` where nothing was measured (nan)."""
    return "n/a" if math.isnan(value) else f"{value:.0%}"


def damage(value: float) -> str:
    """A loss change in nats per token, or ``n/a`` where no held-out text was scored (nan)."""
    return "n/a" if math.isnan(value) else f"{value:+.4f}"


def scores_line(scores: EditScores) -> str:
    """One line of an edit's scores; a score with nothing to measure reads ``n/a``, never ``nan``."""
    line = (f"efficacy {share(scores.efficacy)} (p {scores.efficacy_p:.3f})  "
            f"generalisation {share(scores.generalisation)}  specificity {share(scores.specificity)}  ")
    if math.isnan(scores.damage):
        return line + "damage not measured (--heldout 0)"
    return line + f"damage {damage(scores.damage)} nats/token"


def summarise(rows: Sequence[dict]) -> list[MethodSummary]:
    """One summary per method label, in the order the labels first appear."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out = []
    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        out.append(MethodSummary(label, len(mine), _mean(mine, "efficacy"), _mean(mine, "generalisation"),
                                 _mean(mine, "specificity"), _mean(mine, "damage"), _median(mine, "halving_edited"),
                                 _median(mine, "halving_learned"), _median(mine, "halving_edited_random")))
    return out


def format_table(summaries: Sequence[MethodSummary], mode: str = "noise") -> str:
    """A Markdown table of the summaries."""
    lines = [f"| method | edits | efficacy | generalisation | specificity | damage (nats/token) | "
             f"{mode} halving: edited | learned | edited / learned | edited, random clusters |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.label} | {s.n} | {share(s.efficacy)} | {share(s.generalisation)} | {share(s.specificity)} | "
                     f"{damage(s.damage)} | {s.halving_edited:.2f} | {s.halving_learned:.2f} | {s.robustness:.2f} | "
                     f"{s.halving_edited_random:.2f} |")
    return "\n".join(lines)
