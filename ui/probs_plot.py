"""The live bar chart: clean against impaired next-token probabilities."""

from __future__ import annotations

from html import escape

import plotly.graph_objects as go

from ui.probs import NextTokenProbs

CLEAN_COLOUR = "#9E9E9E"
IMPAIRED_COLOUR = "#E45756"

PROBS_CAPTION = (
    "Each pair of bars is one candidate next token: grey = clean run, red = impaired run "
    "(mean over the K noise samples, whisker = ±1 standard deviation); bar height = probability."
)


def plot_next_token_probs(result: NextTokenProbs, title: str = "Next-token probabilities") -> go.Figure:
    """Grouped bars per candidate token; the x labels carry the rank so Plotly never merges repeats."""
    # Plotly renders a subset of HTML in labels and titles: tokens and names are escaped.
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
