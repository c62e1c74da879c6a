"""Plotly figures for CKA results; they never touch a model.

Plotly renders a subset of HTML in titles, so names (clusters, model folders) are escaped.
"""

from __future__ import annotations

from html import escape

from pathlib import PurePath

import plotly.graph_objects as go

from compare.layers import CkaResult, ModelCkaResult


def plot_cka_layers(result: CkaResult, title: str = "Clean vs impaired") -> go.Figure:
    """One bar per layer: CKA between clean and impaired activations (1 = unchanged geometry)."""
    layers = [f"L{i}" for i in range(len(result.cka))]
    fig = go.Figure(go.Bar(
        x=layers, y=result.cka, marker_color="#4C78A8",
        text=[f"{v:.3f}" for v in result.cka], textposition="outside",
        hovertemplate="layer %{x}<br>CKA %{y:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title=f"{escape(title, quote=False)}: linear CKA at {result.site} ({result.n_positions} positions)",
        xaxis_title="layer", yaxis_title="linear CKA", yaxis_range=[0, 1.1],
        margin=dict(l=40, r=20, t=50, b=40), height=360,
    )
    return fig


def plot_cka_models(result: ModelCkaResult) -> go.Figure:
    """Heatmap: CKA between each layer of model A (rows) and each layer of model B (columns)."""
    n_a, n_b = result.cka.shape
    fig = go.Figure(go.Heatmap(
        z=result.cka, x=[f"B L{j}" for j in range(n_b)], y=[f"A L{i}" for i in range(n_a)],
        zmin=0, zmax=1, colorscale="Viridis", colorbar_title="CKA",
        text=[[f"{v:.2f}" for v in row] for row in result.cka], texttemplate="%{text}",
        hovertemplate="%{y} vs %{x}<br>CKA %{z:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title=f"{_short(result.name_a)} (A) vs {_short(result.name_b)} (B): linear CKA at {result.site}",
        yaxis_autorange="reversed", margin=dict(l=60, r=20, t=50, b=40), height=420,
    )
    return fig


def _short(name: str) -> str:
    """A model's folder or hub name without its parents, for titles."""
    return escape(PurePath(name).name or name, quote=False)
