"""Compare page: per-layer linear CKA, clean vs impaired, and between two models sharing a tokenizer."""

import streamlit as st

from ui.compare import impaired_cka_panel, models_cka_panel, pool_picker, second_model_picker
from ui.config import resolve_model
from ui.impair import impair_controls
from ui.links import options
from ui.shell import attempt, keyword_prompts, open_page

engine, sel = open_page(
    "Compare",
    "Linear CKA measures how similar two sets of activations are up to rotation and scale, over the token "
    "positions of some prompts. Compare each layer before and after impairing a cluster, or two models' layers.",
)
site = st.selectbox("Activations compared", options("cka_site"), key="cka_site", bind="query-params",
                    help="resid_post: the residual stream after the block; attn_out / mlp_out: what the block writes")
prompts = (sel.prompt, *pool_picker(keyword_prompts()))

st.subheader("Clean vs impaired")
setup = attempt(impair_controls, engine, sel.model, sel.prompt, prompts)
if setup is not None:
    impaired_cka_panel(sel.model, prompts, setup, site)

st.subheader("Two models")
other = second_model_picker(sel.workshop)
if other:
    models_cka_panel(sel.model, resolve_model(other), prompts, site)
else:
    st.caption("Choose a second model to compare it with the sidebar's model, layer by layer.")
