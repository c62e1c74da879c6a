"""Downloads under every figure and table, plus the command that reproduces them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st


def png_available() -> bool:
    """Server-side PNG export needs kaleido; without it the chart's own camera button still saves a PNG."""
    try:
        return bool(pio.kaleido.kaleido_available())
    except AttributeError:
        return False


def chart_config(name: str) -> dict:
    """Plotly config for st.plotly_chart: the toolbar's camera button saves ``name``.png in the browser."""
    return {"toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}, "displaylogo": False}


def show_figure(fig: go.Figure, name: str, caption: str, key: str, table: pd.DataFrame | None = None) -> None:
    """Draw ``fig`` and its one-line caption, then one row of downloads: the figure as HTML
    (and PNG where kaleido is installed) and ``table`` as CSV. Files are built only when clicked."""
    st.plotly_chart(fig, key=key, config=chart_config(name))
    st.caption(caption)
    buttons = [("Figure (HTML)", lambda: fig.to_html(include_plotlyjs=True, full_html=True), "html", "text/html")]
    if png_available():
        buttons.append(("Figure (PNG)", lambda: fig.to_image(format="png", scale=2), "png", "image/png"))
    if table is not None:
        buttons.append(("Table (CSV)", lambda: table.to_csv(index=False), "csv", "text/csv"))
    row = st.container(horizontal=True)
    for label, data, ext, mime in buttons:
        row.download_button(label, data=data, file_name=f"{name}.{ext}", mime=mime, key=f"{key}_{ext}",
                            on_click="ignore", icon=":material/download:")


def table_download(df: pd.DataFrame, name: str, key: str) -> None:
    """A CSV download of a table that has no figure."""
    st.download_button("Table (CSV)", data=lambda: df.to_csv(index=False), file_name=f"{name}.csv",
                       mime="text/csv", key=key, on_click="ignore", icon=":material/download:")


def cli_snippet(command: str) -> None:
    """A collapsed "reproduce from the command line" box holding ``command``."""
    with st.expander("Reproduce from the command line", icon=":material/terminal:"):
        st.code(command, language="bash")
