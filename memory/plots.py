"""Plotly figures for memory injection, built from result dataclasses only (no model access).

Plotly renders a subset of HTML in every label, so user text (prompts, memories, tokens) is escaped.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
import plotly.graph_objects as go

from memory.inject import InjectionResult, MemorySpecError

if TYPE_CHECKING:  # memory.sweep imports this module to write its heatmaps
    from memory.sweep import LayerScaleSweep

HeatMetric = Literal["gain", "p_after"]
Statistic = Literal["median", "mean"]


def _reduce(values: np.ndarray, statistic: Statistic) -> np.ndarray:
    """``(n_cases, n_layers, n_scales)`` -> ``(n_layers, n_scales)`` by median or mean over cases."""
    if statistic == "median":
        return np.median(values, axis=0)
    if statistic == "mean":
        return values.mean(axis=0)
    raise MemorySpecError(f"unknown statistic {statistic!r}; use 'median' or 'mean'")


# The gain's colour is log2(gain) clipped to [-CLIP, CLIP] (x1/16 to x16), so one collapsed cell
# (layer 0 at x0.00004) cannot stretch the scale until the x2-x4 repairs look white.
GAIN_CLIP = 4


def _gain_ticks() -> tuple[list[float], list[str]]:
    """Colour-bar ticks at every power of two from x1/16 to x16, written as plain factors."""
    vals = list(range(-GAIN_CLIP, GAIN_CLIP + 1))
    return [float(v) for v in vals], [f"×{2.0 ** v:.2f}".rstrip("0").rstrip(".") for v in vals]


def plot_layer_scale_heatmap(sweep: LayerScaleSweep, metric: HeatMetric = "gain",
                             statistic: Statistic = "median", label: str | None = None) -> go.Figure:
    """Layer (rows) x scale (columns) heatmap of the answer's gain (log colour, centred on ×1) or probability.

    ``label`` restricts to cases with that label (e.g. "bridge"); the statistic is taken over cases.
    """
    s = sweep.select(label) if label is not None else sweep
    if metric == "gain":
        raw = _reduce(s.gain, statistic)
        z = np.clip(np.log2(np.maximum(raw, 1e-12)), -GAIN_CLIP, GAIN_CLIP)
        tickvals, ticktext = _gain_ticks()
        colorbar = dict(title=f"{statistic} gain<br>(log scale)", tickvals=tickvals, ticktext=ticktext)
        heat = dict(colorscale="RdBu", zmin=-GAIN_CLIP, zmax=GAIN_CLIP, zmid=0.0, colorbar=colorbar)
        hover = "layer %{y}<br>scale %{x}<br>gain ×%{customdata:.3g}<extra></extra>"
    elif metric == "p_after":
        raw = _reduce(s.p_after, statistic)
        z = raw
        heat = dict(colorscale="Viridis", zmin=0.0, colorbar=dict(title=f"{statistic} P(answer)"))
        hover = "layer %{y}<br>scale %{x}<br>P(answer) %{customdata:.3g}<extra></extra>"
    else:
        raise MemorySpecError(f"unknown metric {metric!r}; use 'gain' or 'p_after'")
    fig = go.Figure(go.Heatmap(z=z, x=[f"{v:g}" for v in s.scales], y=[f"L{l}" for l in s.layers],
                               customdata=raw, hovertemplate=hover, **heat))
    what = "gain in answer probability" if metric == "gain" else "answer probability"
    title = f"Memory injection: {statistic} {what} over {len(s.cases)} prompt(s)"
    if label:
        title += f" ({escape(label, quote=False)})"
    fig.update_layout(title=title, xaxis_title="scale τ", yaxis_title="layer", yaxis_autorange="reversed")
    if metric == "gain":
        lo, hi = ticktext[0], ticktext[-1]
        fig.add_annotation(text=f"colour: log2 gain clipped to [-{GAIN_CLIP}, {GAIN_CLIP}]; cells beyond {lo} or {hi} "
                                "take the end colour (hover for the exact gain)",
                           xref="paper", yref="paper", x=0, y=-0.22, showarrow=False, xanchor="left", font_size=11)
    return fig


def plot_injection_effect(results: InjectionResult | Sequence[InjectionResult], log_y: bool = False) -> go.Figure:
    """Answer probability before and after injection: one pair of bars per result.

    Bars are labelled by position and memory, e.g. "0:  Tovaren @L2×4", so repeated prompts stay distinct.
    """
    items = [results] if isinstance(results, InjectionResult) else list(results)
    if not items:
        raise MemorySpecError("no injection results to plot; run inject_memory first")
    names = [escape(f"{i}: {r.spec.memory} @L{r.spec.layer}×{r.spec.scale:g}", quote=False) for i, r in enumerate(items)]
    hover = [escape(f"{r.prompt} →{r.answer}", quote=False) + f"<br>gain ×{r.gain:.3g}" for r in items]
    fig = go.Figure([
        go.Bar(name="before", x=names, y=[r.p_before for r in items], hovertext=hover, marker_color="#9aa5b1"),
        go.Bar(name="after", x=names, y=[r.p_after for r in items], hovertext=hover, marker_color="#d1495b"),
    ])
    fig.update_layout(barmode="group", title="Probability of the answer's first token, before and after injection",
                      yaxis_title="P(answer)", xaxis_title="injection")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def plot_top_tokens(result: InjectionResult) -> go.Figure:
    """The most likely next tokens before and after one injection, paired token by token."""
    labels = [f"{i}: {escape(t, quote=False)}" for i, (t, _, _) in enumerate(result.top_both)]
    fig = go.Figure([
        go.Bar(name="before", y=labels, x=[b for _, b, _ in result.top_both], orientation="h", marker_color="#9aa5b1"),
        go.Bar(name="after", y=labels, x=[a for _, _, a in result.top_both], orientation="h", marker_color="#d1495b"),
    ])
    prompt = escape(repr(result.prompt), quote=False)
    fig.update_layout(barmode="group", title=f"Top next tokens after {prompt}", xaxis_title="probability",
                      yaxis_autorange="reversed")
    return fig


def plot_repair_scatter(sweep: LayerScaleSweep, layer: int, scale: float) -> go.Figure:
    """Per prompt, answer probability before (x) vs after (y) at one cell, one colour per label; log axes."""
    i, j = sweep.cell(layer, scale)
    fig = go.Figure()
    for label in sorted(sweep.labels):
        s = sweep.select(label)
        fig.add_trace(go.Scatter(x=s.p_before, y=s.p_after[:, i, j], mode="markers", name=label,
                                 hovertext=[escape(f"{c.key}: {c.prompt} →{c.answer}", quote=False)
                                            for c in s.cases]))
    lo = float(max(np.min(sweep.p_before), 1e-12))
    fig.add_trace(go.Scatter(x=[lo, 1], y=[lo, 1], mode="lines", name="no change", line=dict(dash="dot")))
    fig.add_trace(go.Scatter(x=[lo, 0.5], y=[2 * lo, 1], mode="lines", name="×2", line=dict(dash="dash")))
    fig.update_layout(title=f"Answer probability before vs after, layer {layer}, scale {scale:g}",
                      xaxis_title="P(answer) before", yaxis_title="P(answer) after")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig
