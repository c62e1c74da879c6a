"""Probes page: where in the model a concept lives, how sparsely, and which training sentences made it."""

import streamlit as st

from ui.probe import accuracy_panel, attribution_panel, cached_report, concepts_file, pick_concept, probe_commands
from ui.shell import attempt, cli_snippet, open_page

engine, sel = open_page(
    "Probes",
    "Fit a linear probe for a concept (role, sport, country, …) on every layer's residual stream and MLP output at "
    "the subject's last token: where does it appear, how many units carry it, and which training sentences raised it?",
    needs_prompt=False,
)
concepts = concepts_file(sel.model)
concept = pick_concept(concepts)
if concept is None:
    st.stop()
report = attempt(cached_report, sel.model, concepts, concept)
if report is None:
    st.stop()
accuracy_panel(report)
st.subheader("Which training sentences made it")
spec = attribution_panel(sel.model, concepts, concept)
cli_snippet(probe_commands(sel.model, concepts, concept, spec))
