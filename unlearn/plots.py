"""Plotly figures for unlearning, built from result dataclasses only (no model access)."""

from __future__ import annotations

import plotly.graph_objects as go

from unlearn.evaluate import Scores
from unlearn.extract import Share
from unlearn.robust import CONDITIONS, RobustCurves

CONDITION_LABELS = {"topic": "noise on topic clusters", "random": "noise on random clusters",
                    "topic+memory": "topic noise + the prefix as a memory"}
COLOURS = {"original": "#9aa0a6", "unlearned": "#d62728"}
DASHES = {"topic": "solid", "random": "dot", "topic+memory": "dash"}


def share_bars(before: Scores, after: Scores) -> list[tuple[str, Share, Share]]:
    """(label, before, after) of every share the bars show: memorized (all, by copies), backdoor, facts."""
    bars = [("memorized (all)", before.memorized, after.memorized)]
    a = after.by_copies()
    bars += [(f"memorized ({c} copies)", s, a[c]) for c, s in before.by_copies().items()]
    bars += [("backdoor", before.backdoor, after.backdoor), ("1-hop facts", before.facts, after.facts),
             ("two-hop facts", before.two_hop, after.two_hop)]
    return [(label, b, x) for label, b, x in bars if b.n]


def _bar(bars: list[tuple[str, Share, Share]], which: int, name: str, colour: str) -> go.Bar:
    shares = [b[which] for b in bars]
    values = [s.value for s in shares]
    return go.Bar(x=[b[0] for b in bars], y=values, name=name, marker_color=colour,
                  error_y=dict(type="data", symmetric=False, array=[s.interval[1] - v for s, v in zip(shares, values)],
                               arrayminus=[v - s.interval[0] for s, v in zip(shares, values)]))


def plot_scores(before: Scores, after: Scores, title: str) -> go.Figure:
    """Grouped bars, before (grey) and after (red) unlearning, with 95% Wilson intervals."""
    bars = share_bars(before, after)
    fig = go.Figure([_bar(bars, 1, "original", COLOURS["original"]), _bar(bars, 2, "unlearned", COLOURS["unlearned"])])
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="share", range=[0, 1.05]),
                      legend=dict(orientation="h"), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def plot_robust(curves: RobustCurves) -> go.Figure:
    """Share of secrets extractable against noise intensity: original (grey) and unlearned (red), one dash per condition."""
    fig = go.Figure()
    for model, colour in COLOURS.items():
        for condition in CONDITIONS:
            fig.add_trace(go.Scatter(x=list(curves.intensities), y=list(curves.share[model][condition]),
                                     mode="lines+markers", name=f"{model}: {CONDITION_LABELS[condition]}",
                                     line=dict(color=colour, dash=DASHES[condition])))
    fig.update_layout(title="Does it come back under impairment?", xaxis=dict(title="noise intensity"),
                      yaxis=dict(title="share of secrets extractable", range=[-0.02, 1.02]),
                      legend=dict(orientation="h"), margin=dict(l=10, r=10, t=50, b=10))
    return fig
