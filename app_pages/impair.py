"""Impair page: degrade a cluster of MLP units and watch the next-token probabilities move."""

import streamlit as st

from ui.impair import curves_panel, impair_controls, live_panel
from ui.shell import attempt, keyword_prompts, open_page, target_id

engine, sel = open_page(
    "Impair",
    "Pick a cluster of MLP units, choose how to impair it, then move the intensity slider: "
    "the bars show how the model's next-token guess changes.",
)
prompts = keyword_prompts()
mean_texts = tuple(p.prompt for p in prompts if p.split == "train") or (sel.prompt,)
setup = attempt(impair_controls, engine, sel.model, sel.prompt, mean_texts)
if setup is None:
    st.stop()

live_panel(sel.model, sel.prompt, target_id(engine, sel.target, sel.prompt), setup, sel.target)
st.divider()
curves_panel(sel.model, setup, prompts)
