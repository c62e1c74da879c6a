"""Edit page: rewrite one fact as a per-run weight delta, see what moved, and how robust the edit is."""

from pathlib import Path

import streamlit as st

from promptsets.paths import DEMO_DIR
from ui.edit import before_after, cached_edit, generation_panel, pick_case, pick_spec, robustness_panel
from ui.shell import attempt, open_page

engine, sel = open_page(
    "Edit",
    "Rewrite one fact in one layer's MLP output weights, for your runs only: see the edit prompt, its paraphrases "
    "and neighbouring subjects before and after, then how fast the edited fact breaks under impairment "
    "compared with facts the model learnt.",
)
case = attempt(pick_case, engine, sel.prompt, Path(sel.model).resolve() == DEMO_DIR.resolve())
spec = attempt(pick_spec, engine)
if case is None or spec is None:
    st.stop()
result = attempt(cached_edit, sel.model, case, spec)
if result is None:
    st.stop()
if before_after(sel.model, case, result) is None:
    st.stop()
generation_panel(sel.model, case.fact.prompt, result.delta)
st.divider()
robustness_panel(sel.model, case, result)
