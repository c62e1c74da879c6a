"""Patching results as heatmaps, a table of rows and text grids (the CLI prints what the page draws)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from patch.compute import PatchResult

GRIDS: tuple[str, ...] = ("resid", "heads", "mlp")
TITLES = {"resid": "Residual stream (resid_pre) at each layer and position",
          "heads": "Each head's output at the last position",
          "mlp": "Each MLP's output at each position"}
# 0 (the corrupted run's value) red, 1 (the clean run's) blue, half-way white.
COLOURS = [[0.0, "rgb(178,24,43)"], [0.5, "rgb(247,247,247)"], [1.0, "rgb(33,102,172)"]]
DIGITS = 3


def columns(result: PatchResult, grid: str) -> list[str]:
    """The grid's column labels: ``"i: token"`` per position of the clean prompt, or ``"head h"``."""
    if grid == "heads":
        return [f"head {h}" for h in range(result.heads.shape[1])]
    return list(result.labels)


def values(result: PatchResult, grid: str) -> np.ndarray:
    """``(n_layers, columns)`` shares of ``grid`` (resid, heads or mlp)."""
    return getattr(result, grid)


def plot_patch(result: PatchResult, grid: str) -> go.Figure:
    """One heatmap: layer x position (or head), colour = share of the gap, value printed in each cell."""
    z = values(result, grid)
    layers = [f"layer {l}" for l in range(z.shape[0])]
    text = np.vectorize(lambda v: f"{v:.2f}")(z)
    fig = go.Figure(go.Heatmap(
        z=z, x=columns(result, grid), y=layers, zmin=0.0, zmax=1.0, colorscale=COLOURS, text=text,
        texttemplate="%{text}", colorbar={"title": "share"},
        hovertemplate="%{y}, %{x}<br>share of the gap: %{z:.4f}<extra></extra>"))
    fig.update_layout(title=TITLES[grid], height=140 + 36 * z.shape[0], margin={"t": 50, "b": 40},
                      yaxis={"autorange": "reversed"})
    return fig


def patch_rows(result: PatchResult) -> list[dict]:
    """One row per site: grid, layer, column (position or head), its label, the share."""
    rows = []
    for grid in GRIDS:
        z, labels = values(result, grid), columns(result, grid)
        for layer in range(z.shape[0]):
            for col, label in enumerate(labels):
                rows.append({"site": grid, "layer": layer, "index": col, "label": label,
                             "share": round(float(z[layer, col]), 6)})
    return rows


def format_grid(result: PatchResult, grid: str) -> str:
    """``grid`` as text: a header of column labels, one line per layer, shares at :data:`DIGITS` decimals."""
    labels = columns(result, grid)
    lines = [TITLES[grid], "layer\t" + "\t".join(labels)]
    for layer, row in enumerate(values(result, grid)):
        lines.append(f"{layer}\t" + "\t".join(f"{v:.{DIGITS}f}" for v in row))
    return "\n".join(lines)


def format_summary(result: PatchResult) -> str:
    """The metric on the clean and corrupted prompts, and what the shares mean."""
    s = result.spec
    what = " - ".join(f"logit({t!r})" for t in result.answer_tokens) if s.metric == "logit_diff" \
        else f"p({result.answer_tokens[0]!r})"
    return (f"metric {what}: clean {result.clean_metric:.4f}, corrupted {result.corrupted_metric:.4f}; "
            f"{s.direction}: share of the gap, 0 = corrupted, 1 = clean")
