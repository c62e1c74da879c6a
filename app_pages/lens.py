"""Lens page: what every layer and every attention head would predict next."""

import streamlit as st

from ui.config import default_lens_folder, workshop_lens_folder
from ui.links import chars
from ui.lens import head_panel, lens_stamp, load_lens_set, logit_lens_panel, train_panel
from ui.shell import attempt, md_escape, open_page

engine, sel = open_page(
    "Lens",
    "Decode the model's inner states into tokens: the logit lens reads the residual stream after each layer, "
    "the Attention Lens reads what each head writes. The target token (sidebar) is followed throughout.",
)
st.subheader("Logit lens")
logit_lens_panel(sel.model, sel.prompt, sel.target)

st.subheader("Attention Lens: every head")
if sel.workshop:  # the teacher's lens folder; no server path is typed or trained into
    folder = workshop_lens_folder(sel.model)
else:
    folder = st.text_input("Lens folder", value=default_lens_folder(sel.model), key="lenses", bind="query-params",
                           max_chars=chars("lenses"),
                           help="a folder written by `.venv/bin/python -m lens train` for this model")
stamp = lens_stamp(folder)
lenses = None if stamp is None else attempt(load_lens_set, sel.model, folder, stamp)
if lenses is not None:
    st.caption(f"{lenses.name}, layers {', '.join(map(str, lenses.layers))}, trained {lenses.header.steps} steps.")
    head_panel(sel.model, folder, stamp, sel.prompt, sel.target)
    if not sel.workshop and len(lenses.layers) < engine.spec.n_layers:
        with st.expander("Train lenses for more layers"):
            if train_panel(sel.model, folder, engine.spec.n_layers, lenses.layers):
                st.rerun()
else:
    if sel.workshop:
        st.info("This workshop has no Attention Lenses for the model; the logit lens above still decodes every layer.")
        st.stop()
    if stamp is None:
        st.info(f"This model has no trained lenses in {md_escape(folder)}. Train them here (a progress bar shows "
                "how far) or from the command line.")
    with st.expander("Train lenses", expanded=stamp is None):
        if train_panel(sel.model, folder, engine.spec.n_layers):
            st.rerun()
