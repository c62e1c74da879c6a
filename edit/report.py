"""Summaries of sweep rows: one line per method, the table the bench and the CLI print."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edit.score import EditScores
from memory.intervals import bootstrap_median


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


@dataclass(frozen=True)
class PairedSummary:
    """Edited against learned halving, prompt by prompt: the same prompt's edited answer vs its learned one.

    ``diff``: median over prompts of (edited - learned) halving intensity, ``diff_ci`` its 95% bootstrap
    interval; ``*_random`` the same under random clusters of the same per-layer counts. Halvings beyond
    the grid (never halving) count as the grid's top: ``censored`` (edited, learned) of them on the own
    cluster, ``censored_random`` on random ones.
    """

    label: str
    n: int
    p_trained: float
    halving_edited: float
    halving_learned: float
    diff: float
    diff_ci: tuple[float, float]
    edited_random: float
    learned_random: float
    diff_random: float
    diff_random_ci: tuple[float, float]
    censored: tuple[int, int]
    censored_random: tuple[int, int]


def _paired(rows: Sequence[dict], edited: str, learned: str, top: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Per row, (edited, learned) halving capped at ``top``, and how many of each were beyond it;
    rows where either is nan are dropped."""
    e = np.array([float(r[edited]) for r in rows])
    l_ = np.array([float(r[learned]) for r in rows])
    keep = ~(np.isnan(e) | np.isnan(l_))
    e, l_ = e[keep], l_[keep]
    censored = (int((e > top).sum()), int((l_ > top).sum()))
    return np.minimum(e, top), np.minimum(l_, top), censored


def paired_summaries(rows: Sequence[dict], top: float) -> list[PairedSummary]:
    """One paired summary per method label; ``top`` is the grid's harshest intensity (the censoring point)."""
    out = []
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = [r for r in rows if r["label"] == label]
        e, l_, cens = _paired(mine, "halving_edited", "halving_learned", top)
        er, lr, cens_r = _paired(mine, "halving_edited_random", "halving_learned_random", top)
        out.append(PairedSummary(
            label, len(e), _median(mine, "efficacy_p"), float(np.median(e)), float(np.median(l_)),
            float(np.median(e - l_)), bootstrap_median(e - l_), float(np.median(er)), float(np.median(lr)),
            float(np.median(er - lr)), bootstrap_median(er - lr), cens, cens_r))
    return out


def _ci(ci: tuple[float, float]) -> str:
    return f"{ci[0]:+.2f} to {ci[1]:+.2f}"


def format_paired(summaries: Sequence[PairedSummary], mode: str = "noise") -> str:
    """A Markdown table: per method, the paired halving figures on the own-relation cluster and on random ones."""
    lines = [f"| method | pairs | p(new) after the edit (median) | {mode} halving: edited | learned | "
             "median paired difference (95% CI) | never halved: edited / learned | random clusters: edited | learned | "
             "paired difference (95% CI) | never halved |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.label} | {s.n} | {s.p_trained:.3f} | {s.halving_edited:.2f} | {s.halving_learned:.2f} | "
                     f"{s.diff:+.2f} ({_ci(s.diff_ci)}) | {s.censored[0]} / {s.censored[1]} | {s.edited_random:.2f} | "
                     f"{s.learned_random:.2f} | {s.diff_random:+.2f} ({_ci(s.diff_random_ci)}) | "
                     f"{s.censored_random[0]} / {s.censored_random[1]} |")
    return "\n".join(lines)


def paired_verdicts(summaries: Sequence[PairedSummary]) -> list[str]:
    """What the paired intervals support, one line per method: fragile, sturdier, or no difference shown."""
    lines = []
    for s in summaries:
        lo, hi = s.diff_ci
        verdict = ("edited facts halve at lower noise than the same prompts' learned answers" if hi < 0 else
                   "edited facts halve at higher noise than learned ones" if lo > 0 else
                   "no paired difference shown (the interval holds 0)")
        lines.append(f"{s.label}: {verdict}; median paired difference {s.diff:+.2f} ({_ci(s.diff_ci)})")
    return lines
