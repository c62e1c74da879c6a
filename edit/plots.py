"""Plotly figures for fact edits, built from result dataclasses only (no model access)."""

from __future__ import annotations

import html
from typing import Sequence

import plotly.graph_objects as go

from edit.score import PromptRow, RobustnessCurves

KIND_LABELS = {"edit": "edit prompt", "paraphrase": "paraphrase", "neighbour": "neighbour"}


def plot_before_after(rows: Sequence[PromptRow], title: str = "Before and after the edit") -> go.Figure:
    """Grouped bars per prompt: the target's probability before (grey) and after (red) the edit.

    The target is the new object for the edit prompt and its paraphrases, the old answer for neighbours.
    """
    # Prompts and targets are user text: Plotly renders tags in labels, so they are escaped.
    labels = [f"{i}: [{KIND_LABELS[r.kind]}] {html.escape(r.prompt + ' →' + r.target, quote=False)}"
              for i, r in enumerate(rows)]
    fig = go.Figure([
        go.Bar(y=labels, x=[r.p_before for r in rows], name="before", orientation="h", marker_color="#9aa0a6"),
        go.Bar(y=labels, x=[r.p_after for r in rows], name="after the edit", orientation="h", marker_color="#d62728"),
    ])
    fig.update_layout(title=title, barmode="group", xaxis=dict(title="p(target)", range=[0, 1]),
                      yaxis=dict(autorange="reversed"), height=140 + 34 * len(rows), legend=dict(orientation="h"),
                      margin=dict(l=10, r=10, t=50, b=10))
    return fig


def plot_robustness(curves: RobustnessCurves, at: float | None = None) -> go.Figure:
    """Top-1 accuracy against intensity: the edited fact and the learned ones, solid for the cluster,
    dotted for random clusters of the same size; a vertical line at the slider's intensity ``at``."""
    x = list(curves.intensities)
    fig = go.Figure()
    styles = (("edited", "edited fact", "#d62728", "solid"), ("learned", "learned facts", "#1f77b4", "solid"),
              ("edited_random", "edited, random clusters", "#d62728", "dot"),
              ("learned_random", "learned, random clusters", "#1f77b4", "dot"))
    for name, label, colour, dash in styles:
        half = curves.halving(name)
        fig.add_trace(go.Scatter(x=x, y=list(getattr(curves, name)), mode="lines+markers",
                                 name=f"{label} (halves at {half:.2g})", line=dict(color=colour, dash=dash)))
    if at is not None:
        fig.add_vline(x=at, line=dict(color="#555", width=1, dash="dash"))
    axis = "scale factor (1 = clean)" if curves.mode == "scale" else f"{curves.mode.replace('_', ' ')} intensity"
    fig.update_layout(title=f"Robustness under {html.escape(curves.cluster, quote=False)} impairment", xaxis=dict(title=axis),
                      yaxis=dict(title="top-1 accuracy", range=[-0.02, 1.02]), legend=dict(orientation="h"),
                      margin=dict(l=10, r=10, t=50, b=10))
    if curves.mode == "scale":
        fig.update_xaxes(autorange="reversed")
    return fig
