"""Clusters page: find topic clusters of MLP units, inspect them, save or download them."""

import streamlit as st

from cluster.plots import plot_cluster_layers
from ui.clusters import cluster_ref, describe_panel, find_panel, pick_cluster, save_panel, upload_panel
from ui.commands import cluster_describe
from ui.shell import attempt, cli_snippet, keyword_prompts, md_escape, open_page, prompt_topic, show_figure

engine, sel = open_page(
    "Clusters",
    "A cluster is a set of MLP units (layer, neuron) tied to a topic. Choose a shipped one, find new ones "
    "on the demo's keyword prompts, or load a file; then see where it sits and what it responds to.",
    needs_prompt=False,
)
prompts = keyword_prompts()

with st.expander("Find clusters", expanded=False):
    if prompts:
        find_panel(engine, sel.model, prompts)
    else:
        st.info("Finding clusters needs the demo's keyword prompts (assets/demo/prompts); build them with `.venv/bin/python -m world build`.")
with st.expander("Load a cluster file"):
    upload_panel(engine)

cluster = attempt(pick_cluster, engine, topic=prompt_topic(sel.prompt))
if cluster is None:
    st.stop()

show_figure(plot_cluster_layers(cluster, engine.spec.n_layers), f"cluster-{cluster.name}-layers",
            "Each bar is one layer; its height is how many of the cluster's units sit in that layer.",
            key="cluster_layers")
if cluster.detail:
    st.caption(md_escape(cluster.detail))
cli_snippet(cluster_describe(sel.model, cluster_ref(cluster)))
if prompts:
    describe_panel(engine, sel.model, cluster, prompts)
save_panel(cluster, server_paths=not sel.workshop)
