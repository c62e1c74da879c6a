"""Probe results as Plotly figures: accuracy per layer with its baselines, and the sparsity curve."""

from __future__ import annotations

import plotly.graph_objects as go

from probe.report import ProbeReport
from probe.sites import EMBED

KIND_NAMES = {"resid": "residual stream", "mlp_out": "MLP output"}


def layer_name(layer: int) -> str:
    """x-axis label of a layer: "embed" for the embeddings, else "layer N"."""
    return "embed" if layer == EMBED else f"layer {layer}"


def plot_accuracy(report: ProbeReport) -> go.Figure:
    """Held-out accuracy per layer (95% Wilson bars) for each site kind, the shuffled-label probe, and the
    majority baseline as a band; a dotted line marks the layer where the concept appears."""
    fig = go.Figure()
    order = sorted({s.site.layer for s in report.scores})
    x_all = [layer_name(layer) for layer in order]
    fig.add_trace(go.Scatter(x=x_all + x_all[::-1], y=[report.majority_hi] * len(x_all) + [report.majority_lo] * len(x_all),
                             fill="toself", fillcolor="rgba(120,120,120,0.15)", line={"width": 0},
                             name="majority 95%", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x_all, y=[report.majority_acc] * len(x_all), mode="lines", name="majority class",
                             line={"dash": "dash", "color": "grey"}))
    for kind, colour in (("resid", "rgb(33,102,172)"), ("mlp_out", "rgb(178,24,43)")):
        scores = sorted((s for s in report.scores if s.site.kind == kind), key=lambda s: s.site.layer)
        x = [layer_name(s.site.layer) for s in scores]
        fig.add_trace(go.Scatter(
            x=x, y=[s.acc for s in scores], mode="lines+markers", name=f"probe on {KIND_NAMES[kind]}",
            line={"color": colour}, error_y={"type": "data", "symmetric": False,
                                             "array": [s.hi - s.acc for s in scores],
                                             "arrayminus": [s.acc - s.lo for s in scores]}))
        fig.add_trace(go.Scatter(x=x, y=[s.shuffled for s in scores], mode="lines", name=f"shuffled labels ({kind})",
                                 line={"color": colour, "dash": "dot", "width": 1}))
    if report.appears is not None:
        fig.add_vline(x=x_all.index(layer_name(report.appears.layer)), line={"dash": "dot", "color": "green"},
                      annotation_text="appears")
    fig.update_layout(title=f"Held-out accuracy of a {report.data.concept} probe at each layer",
                      xaxis={"title": "layer (last token of the prompt)", "type": "category",
                             "categoryorder": "array", "categoryarray": x_all},
                      yaxis={"title": "held-out accuracy", "range": [0, 1.02]}, height=420, margin={"t": 50})
    return fig


def plot_sparsity(report: ProbeReport) -> go.Figure:
    """Held-out accuracy (95% bars) against the units an L1 probe at the best site keeps, with the majority line."""
    pts = report.path
    fig = go.Figure(go.Scatter(
        x=[p.units for p in pts], y=[p.acc for p in pts], mode="lines+markers", name="L1 probe",
        error_y={"type": "data", "symmetric": False, "array": [p.hi - p.acc for p in pts],
                 "arrayminus": [p.acc - p.lo for p in pts]},
        hovertemplate="%{x} units: accuracy %{y:.3f}<extra></extra>"))
    fig.add_hline(y=report.majority_acc, line={"dash": "dash", "color": "grey"}, annotation_text="majority")
    fig.update_layout(title=f"Sparsity at {report.best.label}: accuracy against units kept",
                      xaxis={"title": "units with a nonzero weight (of d_model)"},
                      yaxis={"title": "held-out accuracy", "range": [0, 1.02]}, height=380, margin={"t": 50})
    return fig
