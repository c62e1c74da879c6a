"""Plotly figures of lens results; they read result dataclasses only, never the model."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from lens.decode import HeadLensResult, LogitLensResult, PatternResult

COLORSCALE = "Blues"


def show_token(tok: str) -> str:
    """A token as a cell label: escaped for Plotly's HTML, newlines and tabs made visible."""
    return html.escape(tok.replace("\n", "\\n").replace("\t", "\\t"), quote=False)


def quoted(tok: str) -> str:
    """A token quoted for hover text, so leading spaces show: ``' Paris'``."""
    return html.escape(repr(tok), quote=False)


def _hover(strs: np.ndarray, probs: np.ndarray, head: str, target: str | None,
           t_prob: float | None, t_rank: int | None) -> str:
    lines = [head] + [f"{i + 1}. {quoted(s)}  {p:.3f}" for i, (s, p) in enumerate(zip(strs, probs))]
    if target is not None and t_prob is not None:
        lines.append(f"target {quoted(target)}: p {t_prob:.3f}, rank {int(t_rank)}")
    return "<br>".join(lines)


def _heatmap(z: np.ndarray, text: np.ndarray, hover: np.ndarray, x: list[str], y: list[str],
             title: str, xtitle: str, ytitle: str, ztitle: str = "p") -> go.Figure:
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=y, text=text, texttemplate="%{text}", hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>", colorscale=COLORSCALE, zmin=0.0, zmax=1.0,
        colorbar=dict(title=ztitle),
    ))
    fig.update_layout(title=title, xaxis_title=xtitle, yaxis_title=ytitle,
                      xaxis=dict(type="category"), yaxis=dict(type="category"))
    return fig


def _target(result, idx: tuple) -> tuple[float | None, int | None]:
    if result.target_prob is None:
        return None, None
    return float(result.target_prob[idx]), int(result.target_rank[idx])


def plot_logit_lens(result: LogitLensResult) -> go.Figure:
    """Layer x position heatmap: each cell's top token, coloured by its probability; top-k on hover."""
    n_layers, n_pos = result.top_ids.shape[:2]
    text = np.empty((n_layers, n_pos), dtype=object)
    hover = np.empty((n_layers, n_pos), dtype=object)
    for i, layer in enumerate(result.layers):
        for p in range(n_pos):
            text[i, p] = show_token(result.top_strs[i, p, 0])
            head = f"layer {layer}, position {html.escape(result.labels[p], quote=False)}"
            hover[i, p] = _hover(result.top_strs[i, p], result.top_probs[i, p], head, result.target,
                                 *_target(result, (i, p)))
    return _heatmap(result.top_probs[..., 0], text, hover, [html.escape(s, quote=False) for s in result.labels],
                    [str(l) for l in result.layers], f"Logit lens ({result.site})", "position", "layer")


def plot_head_grid(result: HeadLensResult, pos: int, by_target: bool = True) -> go.Figure:
    """Layer x head grid at prompt position ``pos``: each head's top token; colour = p(target) when there is a
    target and ``by_target``, else the top token's probability (the target's p and rank on hover)."""
    p = result.col(pos)
    by_target = by_target and result.target_prob is not None
    label = html.escape(result.labels[result.positions[p]], quote=False)
    n_layers, n_heads = result.top_ids.shape[:2]
    text = np.empty((n_layers, n_heads), dtype=object)
    hover = np.empty((n_layers, n_heads), dtype=object)
    for i, layer in enumerate(result.layers):
        for h in range(n_heads):
            shown = result.target_prob[i, h, p] if by_target else result.top_probs[i, h, p, 0]
            text[i, h] = f"{show_token(result.top_strs[i, h, p, 0])}<br>{shown:.2f}"
            hover[i, h] = _hover(result.top_strs[i, h, p], result.top_probs[i, h, p], f"L{layer}H{h}",
                                 result.target, *_target(result, (i, h, p)))
    z = result.target_prob[:, :, p] if by_target else result.top_probs[:, :, p, 0]
    what = f"colour = p(target {quoted(result.target)})" if by_target else "colour = p(top token)"
    return _heatmap(z, text, hover, [f"H{h}" for h in range(n_heads)], [f"L{l}" for l in result.layers],
                    f"{result.lens} at position {label}; {what}", "head", "layer",
                    "p(target)" if by_target else "p(top)")


def plot_head_topk(result: HeadLensResult, layer: int, head: int, pos: int) -> go.Figure:
    """Bar chart of one head's top-k tokens at prompt position ``pos`` (the target's probability as a line)."""
    i, p = result.row(layer), result.col(pos)
    strs = [f"{k + 1}. {show_token(s)}" for k, s in enumerate(result.top_strs[i, head, p])]
    fig = go.Figure(go.Bar(x=result.top_probs[i, head, p], y=strs, orientation="h",
                           hovertemplate="%{y}: p %{x:.3f}<extra></extra>"))
    t_prob, t_rank = _target(result, (i, head, p))
    if t_prob is not None:
        fig.add_vline(x=t_prob, line_dash="dash",
                      annotation_text=f"target {quoted(result.target)}: rank {t_rank}")
    label = html.escape(result.labels[result.positions[p]], quote=False)
    fig.update_layout(title=f"L{layer}H{head} at position {label} ({result.lens})",
                      xaxis_title="probability", yaxis=dict(autorange="reversed", type="category"))
    return fig


def plot_attention_pattern(result: PatternResult, head: int) -> go.Figure:
    """Query x key heatmap of one head's attention probabilities."""
    n_heads = result.pattern.shape[0]
    if not 0 <= head < n_heads:
        raise IndexError(f"head {head} does not exist; this layer has heads 0-{n_heads - 1}")
    labels = [html.escape(s, quote=False) for s in result.labels]
    fig = go.Figure(go.Heatmap(
        z=result.pattern[head], x=labels, y=labels, colorscale=COLORSCALE, zmin=0.0, zmax=1.0,
        hovertemplate="query %{y}<br>key %{x}<br>attention %{z:.3f}<extra></extra>", colorbar=dict(title="attn"),
    ))
    fig.update_layout(title=f"Attention pattern L{result.layer}H{head}", xaxis_title="key position",
                      yaxis_title="query position", xaxis=dict(type="category"),
                      yaxis=dict(type="category", autorange="reversed"))
    return fig
