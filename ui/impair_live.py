"""The live panel of the Impair page: intensity slider, probabilities chart, KL and target rank.

It is one st.fragment, so moving the slider reruns only this panel (and the
engine recomputes only from the cluster's first layer, on its prefix cache).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.interventions import Intervention
from ui.shell import attempt, cli_snippet, load_engine, show_figure
from ui.clusters import cluster_ref
from ui.commands import cluster_sweep
from ui.impair_controls import ImpairSetup, intensity_slider
from ui.probs import NextTokenProbs, summarise_run
from ui.probs_plot import PROBS_CAPTION, plot_next_token_probs

TOP_K = 10


@st.cache_data(max_entries=1024, show_spinner=False)
def next_token_probs(model: str, prompt: str, interventions: tuple[Intervention, ...], samples: int,
                     k: int, target: int | None) -> NextTokenProbs:
    """Top-k clean vs impaired next-token probabilities; keyed by the hashable intervention specs."""
    engine = load_engine(model)
    run = engine.run(prompt, interventions, samples=samples)
    return summarise_run(run, engine.token_strs, k=k, target_id=target)


def probs_table(result: NextTokenProbs) -> pd.DataFrame:
    """The chart's numbers as a table (one row per candidate token)."""
    return pd.DataFrame({"token_id": result.token_ids, "token": result.labels, "p_clean": result.clean,
                         "p_impaired_mean": result.impaired, "p_impaired_std": result.impaired_std})


def show_metrics(result: NextTokenProbs) -> None:
    """KL from clean, the target's probability and its rank, clean -> impaired."""
    c1, c2, c3 = st.columns(3)
    c1.metric("KL from clean (nats)", f"{result.kl:.4f}")
    c2.metric(f"p(target {result.target_label})", f"{result.target_impaired:.4f}",
              delta=f"{result.target_impaired - result.target_clean:+.4f} vs clean")
    moved = result.rank_impaired - result.rank_clean
    c3.metric("Target rank", f"{result.rank_impaired}", delta=f"{moved:+d} vs clean" if moved else None,
              delta_color="inverse")


@st.fragment
def live_panel(model: str, prompt: str, target: int | None, setup: ImpairSetup) -> None:
    """Slider + chart; reruns alone when the slider moves."""
    intensity = intensity_slider(setup.mode, top=setup.noise_max)
    ivs = setup.interventions(1.0 if intensity is None else intensity)
    result = attempt(next_token_probs, model, prompt, ivs, setup.samples, TOP_K, target)
    if result is None:
        return
    # The metrics sit above the chart but are filled after it, so the chart reaches the browser first.
    metrics = st.container()
    show_figure(plot_next_token_probs(result, f"Next token after the prompt, {setup.cluster.name} impaired"),
                "impair-probs", PROBS_CAPTION, key="impair_probs", table=probs_table(result))
    with metrics:
        show_metrics(result)
    x = 1.0 if intensity is None else intensity
    cli_snippet(cluster_sweep(model, cluster_ref(setup.cluster), setup.cluster.name, setup.mode, f"{x:g}", setup.seed, setup.samples))
