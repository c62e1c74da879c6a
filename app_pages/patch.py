"""Patch page: which layers, positions, heads and MLPs carry the difference between two prompts."""

import streamlit as st

from ui.patch import pair_inputs, patch_panel
from ui.shell import open_page

engine, sel = open_page(
    "Patch",
    "Run a clean prompt and a corrupted one (another subject, another answer), then patch one site at a "
    "time from one run into the other: each cell shows how much of the difference that site alone carries.",
    needs_prompt=False,
)
base = pair_inputs(sel.model, sel.prompt, sel.target)
if base is None:
    st.stop()
patch_panel(sel.model, base)
