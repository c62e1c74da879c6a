"""Memory page: inject an entity's tokens into one attention layer and watch the answer's probability."""

import streamlit as st

from engine.interventions import Positions
from memory.inject import InjectionSpec
from ui.impair import pick_positions
from ui.links import chars, options
from ui.memory import live_injection, sweep_panel
from ui.shell import open_page, token_labels

engine, sel = open_page(
    "Memory",
    "Type the entity the model is missing (a “memory”); it is added, as the sum of its tokens' unembedding "
    "rows times a scale, to one attention layer's output. Watch the answer's probability change.",
)
c1, c2, c3 = st.columns([3, 2, 1])
memory = c1.text_input("Memory text", value="", key="memory", bind="query-params", max_chars=chars("memory"),
                       placeholder="e.g. the bridge entity, with its leading space",
                       help="picking a two-hop prompt in the sidebar fills in its bridge entity")
source = c2.selectbox("Rows summed", options("mem_source"), key="mem_source", bind="query-params",
                      help="unembedding: the paper's recipe; embedding: the input-embedding rows")
normalise = c3.checkbox("Unit norm", key="mem_norm", bind="query-params")
positions: Positions = pick_positions(token_labels(sel.model, sel.prompt), key="mem_pos")

if not memory.strip():
    st.info("Type a memory text above (or pick a two-hop prompt in the sidebar) to inject it.")
    st.stop()

base = InjectionSpec(memory, 0, 1.0, source, normalise, positions)
live_injection(sel.model, sel.prompt, sel.target, base, engine.spec.n_layers)
st.divider()
if sel.target:
    sweep_panel(sel.model, sel.prompt, sel.target, base)
else:
    st.info("The layer × scale heatmap follows a target token: type one in the sidebar (e.g. the expected answer).")
