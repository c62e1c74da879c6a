"""Plotly figures of clusters and their impairment; they read results, never the model.

A cluster's units per layer; impairment curves and specificity, and one HTML page of them for a
sweep's CSV rows; the Impair page's live bars, clean against impaired next-token probabilities.
Plotly renders a subset of HTML in labels and titles, so cluster, topic and token names are escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import plotly.graph_objects as go
from plotly.colors import qualitative

from cluster.curves import ImpairmentCurves, curves_from_rows
from cluster.impair import METRIC_LABELS, METRICS, NextTokenProbs, metric_index
from cluster.spec import Cluster
from engine.interventions import NOISY_MODES

PALETTE = qualitative.Plotly


def plot_impairment_curves(curves: ImpairmentCurves, metric: str = "accuracy") -> go.Figure:
    """``metric`` against intensity, one solid line per topic; dashed: the same topic under random clusters."""
    metric_index(metric)
    fig = go.Figure()
    x = curves.intensities
    for i, topic in enumerate(curves.topics):
        color = PALETTE[i % len(PALETTE)]
        is_target = topic == curves.target
        name = escape(f"{topic} (target)" if is_target else topic, quote=False)
        fig.add_trace(go.Scatter(
            x=x, y=curves.curve(metric, topic), name=name, mode="lines+markers", legendgroup=topic,
            line=dict(color=color, width=3 if is_target else 1.5),
        ))
        if curves.baseline is not None:
            fig.add_trace(go.Scatter(
                x=x, y=curves.curve(metric, topic, baseline=True), name=escape(f"{topic}, random cluster", quote=False),
                mode="lines", legendgroup=topic, line=dict(color=color, width=1, dash="dash"),
            ))
    fig.update_layout(
        title=_title(curves, metric), xaxis_title=_x_label(curves.mode), yaxis_title=METRIC_LABELS[metric],
        legend_title="topic (dashed: random cluster, same size per layer)", template="plotly_white",
    )
    return fig


def plot_specificity(curves: ImpairmentCurves, metric: str = "accuracy") -> go.Figure:
    """Specificity (target drop minus the others' mean drop) against intensity, cluster vs random baseline."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=curves.intensities, y=curves.specificity(metric),
                             name=escape(curves.cluster, quote=False),
                             mode="lines+markers"))
    if curves.baseline is not None:
        fig.add_trace(go.Scatter(x=curves.intensities, y=curves.specificity(metric, baseline=True),
                                 name="random cluster", mode="lines", line=dict(dash="dash")))
    name = escape(repr(curves.cluster), quote=False)
    fig.update_layout(title=f"Specificity of {name} on {METRIC_LABELS[metric]} ({curves.mode})",
                      xaxis_title=_x_label(curves.mode), yaxis_title="target drop - mean drop of others",
                      template="plotly_white")
    return fig


def _title(curves: ImpairmentCurves, metric: str) -> str:
    counts = f" ({sum(curves.n_prompts)} prompts)" if curves.n_prompts else ""
    name = escape(repr(curves.cluster), quote=False)
    return f"Impairing {name} at {curves.site}, mode {curves.mode}: {METRIC_LABELS[metric]}{counts}"


def _x_label(mode: str) -> str:
    if mode == "scale":
        return "scale factor (1 = clean)"
    if mode in NOISY_MODES:
        return "noise intensity (std of the added noise)"
    return "intensity"


def write_sweep_html(rows: list[dict[str, str]], path: Path, target: str | None = None) -> Path:
    """One page: for each mode, every metric's curves and (with a target topic) the specificity."""
    parts = []
    for mode in dict.fromkeys(r["mode"] for r in rows):
        curves = curves_from_rows(rows, mode, target)
        figs = [plot_impairment_curves(curves, m) for m in METRICS]
        if target is not None and target in curves.topics and len(curves.topics) > 1:
            figs.append(plot_specificity(curves, "accuracy"))
        parts += [f.to_html(full_html=False, include_plotlyjs=(not parts and i == 0)) for i, f in enumerate(figs)]
    name = rows[0]["cluster"] if rows else "cluster"
    page = f"<html><head><meta charset='utf-8'><title>{escape(name)} sweep</title></head><body>{''.join(parts)}</body></html>"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def plot_cluster_layers(cluster: Cluster, n_layers: int | None = None) -> go.Figure:
    """Bar chart of how many units the cluster holds in each layer."""
    n_layers = n_layers if n_layers is not None else (max(cluster.layers) + 1 if cluster.neurons else 0)
    counts = cluster.counts(n_layers)
    fig = go.Figure(go.Bar(x=[f"layer {layer}" for layer in range(n_layers)], y=counts,
                           text=[str(c) for c in counts], textposition="auto"))
    fig.update_layout(title=f"{escape(repr(cluster.name), quote=False)}: {cluster.size} {cluster.site} units by layer",
                      xaxis_title="layer", yaxis_title="units", template="plotly_white")
    return fig


CLEAN_COLOUR = "#9E9E9E"
IMPAIRED_COLOUR = "#E45756"

PROBS_CAPTION = (
    "Each pair of bars is one candidate next token: grey = clean run, red = impaired run "
    "(mean over the K noise samples, whisker = ±1 standard deviation); bar height = probability."
)


def plot_next_token_probs(result: NextTokenProbs, title: str = "Next-token probabilities") -> go.Figure:
    """Grouped bars per candidate token; the x labels carry the rank so Plotly never merges repeats."""
    x = [f"{i + 1}: {escape(label, quote=False)}" for i, label in enumerate(result.labels)]
    show_spread = result.samples > 1
    fig = go.Figure([
        go.Bar(name="clean", x=x, y=result.clean, marker_color=CLEAN_COLOUR,
               hovertemplate="%{x}<br>clean p=%{y:.4f}<extra></extra>"),
        go.Bar(name=f"impaired (K={result.samples})", x=x, y=result.impaired, marker_color=IMPAIRED_COLOUR,
               error_y=dict(type="data", array=result.impaired_std, visible=show_spread),
               hovertemplate="%{x}<br>impaired p=%{y:.4f}<extra></extra>"),
    ])
    fig.update_layout(
        title=escape(title, quote=False), barmode="group", yaxis_title="probability", yaxis_range=[0, 1],
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
        margin=dict(l=40, r=10, t=60, b=40), height=380, uirevision="probs",
    )
    return fig
