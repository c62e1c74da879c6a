"""Start page: what each page does, in the order a first visit goes."""

import streamlit as st

from ui.shell import selection

sel = selection()
st.title("LensLab")
st.markdown(
    "Look inside a small GPT-style model and poke it. The sidebar holds the **model**, the **prompt** "
    "and the **target token** every page works on; pick a prompt from a demo set or type your own. "
    "Every view lives in the URL: copy the address bar to share exactly what you see."
)
if sel.workshop:
    st.info("Workshop mode: pick a starter prompt in the sidebar, then open **Impair** and move the slider.")

st.page_link("app_pages/lens.py", label="**Lens**: what each layer and each attention head would predict next", icon=":material/search:")
st.page_link("app_pages/clusters.py", label="**Clusters**: groups of MLP neurons tied to a topic; find, inspect, save", icon=":material/hub:")
st.page_link("app_pages/impair.py", label="**Impair**: add noise to a cluster and watch the next-token probabilities move", icon=":material/tune:")
st.page_link("app_pages/memory.py", label="**Memory**: inject an entity's tokens into an attention layer and see the answer change", icon=":material/vaccines:")
st.page_link("app_pages/edit.py", label="**Edit**: rewrite one fact in the model's weights and see how robust the edit is", icon=":material/edit_note:")
st.page_link("app_pages/patch.py", label="**Patch**: swap one site's activation between a clean and a corrupted prompt; see which sites carry the answer", icon=":material/swap_horiz:")
st.page_link("app_pages/probe.py", label="**Probes**: where a concept lives, layer by layer, and which training sentences taught it", icon=":material/psychology:")
st.page_link("app_pages/unlearn.py", label="**Unlearn**: find where a planted secret lives in the weights and remove it without hurting the facts", icon=":material/auto_delete:")
st.page_link("app_pages/compare.py", label="**Compare**: how much an impairment, or another model, changes each layer's geometry", icon=":material/compare_arrows:")

st.caption(
    "Long computations (training lenses, finding clusters, sweeps) show a progress bar; each has a "
    "command-line twin shown under “Reproduce from the command line”."
)
