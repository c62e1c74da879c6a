"""Impairment curves on demand: one line per topic against intensity, with a random-cluster baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cluster.curves import ImpairmentCurves, impairment_curves
from cluster.metrics import METRIC_LABELS, METRICS
from cluster.plots import plot_impairment_curves, plot_specificity
from ui.clusters import cluster_ref
from ui.commands import cluster_sweep
from ui.shell import attempt, cli_snippet, load_engine, show_figure
from ui.impair_controls import SLIDERS, ImpairSetup
from promptsets.schema import KeywordPrompt

STORE = "_impair_curves"
CURVES_CAPTION = ("Each solid line is one topic's held-out keyword prompts, its metric against intensity; "
                  "the thick line is the cluster's own topic, dashed lines the same topics under random clusters of equal size.")
SPEC_CAPTION = ("Specificity = the target topic's drop minus the other topics' mean drop; "
                "above the dashed random-cluster line means the cluster is topic-specific.")


def intensity_grid(mode: str, n: int) -> tuple[float, ...]:
    """``n`` intensities from clean to the slider's far end (scale goes 1 -> 0)."""
    lo, hi, _, _ = SLIDERS[mode]
    xs = np.linspace(hi, lo, n) if mode == "scale" else np.linspace(lo, hi, n)
    return tuple(round(float(x), 4) for x in xs)


def per_topic(prompts: tuple[KeywordPrompt, ...], n: int) -> list[KeywordPrompt]:
    """The first ``n`` held-out prompts of each topic (the app's quick version of the full sweep)."""
    seen: dict[str, int] = {}
    out = []
    for p in prompts:
        if p.split == "heldout" and seen.get(p.topic, 0) < n:
            seen[p.topic] = seen.get(p.topic, 0) + 1
            out.append(p)
    return out


def curves_table(curves: ImpairmentCurves) -> pd.DataFrame:
    """Every (topic, intensity, metric) value, with the random baseline beside it."""
    rows = []
    for m in METRICS:
        for t in curves.topics:
            base = curves.curve(m, t, baseline=True) if curves.baseline is not None else [np.nan] * len(curves.intensities)
            rows += [{"metric": m, "topic": t, "intensity": x, "value": v, "random_baseline": b}
                     for x, v, b in zip(curves.intensities, curves.curve(m, t), base)]
    return pd.DataFrame(rows)


def _compute(model: str, setup: ImpairSetup, prompts: list[KeywordPrompt], xs: tuple[float, ...]) -> ImpairmentCurves | None:
    bar = st.progress(0.0, text="Impairing the cluster at each intensity…")
    curves = attempt(impairment_curves, load_engine(model), setup.cluster, prompts, setup.mode, xs,
                     seeds=(setup.seed,), samples=min(setup.samples, 4), positions=setup.positions,
                     progress=lambda done, total: bar.progress(done / total, text=f"{done}/{total} intensity runs"))
    bar.empty()
    return curves


@st.fragment
def curves_panel(model: str, setup: ImpairSetup, prompts: tuple[KeywordPrompt, ...]) -> None:
    """A button that computes the curves with progress, then the curves and their downloads."""
    st.subheader("Impairment curves per topic")
    if not prompts:
        st.info("Impairment curves need the demo's keyword prompts (assets/demo/prompts); rebuild them with `python -m world build`.")
        return
    if setup.mode not in SLIDERS:
        st.info("Zero and mean ablation have no intensity, so no curve: choose noise, negative noise or scale.")
        return
    c1, c2, c3 = st.columns(3)
    metric = c1.selectbox("Metric", METRICS, index=2, format_func=METRIC_LABELS.get, key="metric", bind="query-params")
    n_points = int(c2.number_input("Intensities", 3, 21, 6, key="points", bind="query-params"))
    n_prompts = int(c3.number_input("Held-out prompts per topic", 2, 500, 15, key="per_topic", bind="query-params"))
    xs = intensity_grid(setup.mode, n_points)
    key = (model, setup.cluster, setup.mode, setup.positions, setup.seed, setup.samples, xs, n_prompts)
    store = st.session_state.setdefault(STORE, {})
    if st.button("Compute impairment curves", key="curves_go", type="primary"):
        store[key] = _compute(model, setup, per_topic(prompts, n_prompts), xs)
    curves = store.get(key)
    if curves is None:
        st.caption("Press the button to impair the cluster at each intensity on held-out prompts of every topic.")
        return
    show_figure(plot_impairment_curves(curves, metric), "impairment-curves", CURVES_CAPTION, key="curves_fig",
                table=curves_table(curves))
    if curves.target in curves.topics and len(curves.topics) > 1:
        show_figure(plot_specificity(curves, metric), "specificity", SPEC_CAPTION, key="spec_fig")
    cli_snippet(cluster_sweep(model, cluster_ref(setup.cluster), setup.cluster.name, setup.mode, ",".join(f"{x:g}" for x in xs),
                              setup.seed, min(setup.samples, 4)))
