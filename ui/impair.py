"""The Impair page: its controls, turned into one setup value; the live panel (intensity slider,
probabilities chart, KL and target rank); and impairment curves on demand (one line per topic
against intensity, with a random-cluster baseline). Compare, Edit and Memory reuse the controls.

The live panel is one st.fragment, so moving the slider reruns only that panel (and the
engine recomputes only from the cluster's first layer, on its prefix cache).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from cluster.curves import ImpairmentCurves, impairment_curves
from cluster.impair import METRIC_LABELS, METRICS, NextTokenProbs, impairs, summarise_run
from cluster.inputs import unit_means
from cluster.plots import PROBS_CAPTION, plot_impairment_curves, plot_next_token_probs, plot_specificity
from cluster.spec import Cluster
from engine import Engine
from engine.interventions import NOISY_MODES, Impair, Intervention, Positions
from promptsets.schema import KeywordPrompt
from ui.clusters import cluster_ref, pick_cluster
from ui.commands import impair_curves, impair_run
from ui.generate import show_continuations
from ui.jobs import heavy_job
from ui.links import RULES, limits, options
from ui.shell import (CACHE_TTL, attempt, cli_snippet, load_engine, progress_bar, prompt_topic, shared_figure, show_figure,
                      token_labels)

MODE_LABELS = {"noise": "noise", "negative_noise": "negative noise", "scale": "scale",
               "zero": "zero", "mean": "mean"}
# mode -> (min, max, default, step) of the intensity slider (the range is the link rule's); zero and mean have none.
_NOISE, _SCALE = RULES["intensity_noise"], RULES["intensity_scale"]
SLIDERS = {"noise": (_NOISE.lo, _NOISE.hi, 2.0, 0.1), "negative_noise": (_NOISE.lo, _NOISE.hi, 2.0, 0.1),
           "scale": (_SCALE.lo, _SCALE.hi, 0.5, 0.05)}
TOP_K = 10
STORE = "_impair_curves"
CURVES_CAPTION = ("Each solid line is one topic's held-out keyword prompts, its metric against intensity; "
                  "the thick line is the cluster's own topic, dashed lines the same topics under random clusters of equal size.")
SPEC_CAPTION = ("Specificity = the target topic's drop minus the other topics' mean drop; "
                "above the dashed random-cluster line means the cluster is topic-specific.")


@st.cache_data(max_entries=32, ttl=CACHE_TTL, show_spinner="Measuring mean activations…")
def mean_activations(model: str, site: str, texts: tuple[str, ...]) -> np.ndarray:
    """``(n_layers, width)`` clean mean of every unit at ``site`` over ``texts`` (for mean ablation)."""
    return unit_means(load_engine(model), texts, site)


@dataclass(frozen=True, eq=False)
class ImpairSetup:
    """Everything but the intensity: the cluster, how to impair it, where, and how many noise samples."""

    cluster: Cluster
    mode: str
    positions: Positions
    samples: int
    seed: int
    means: np.ndarray | None = None
    noise_max: float = SLIDERS["noise"][1]

    def interventions(self, intensity: float) -> tuple[Impair, ...]:
        """The engine interventions at ``intensity`` (one Impair per layer of the cluster)."""
        return impairs(self.cluster, self.mode, intensity, seed=self.seed, positions=self.positions, means=self.means)


def pick_positions(labels: tuple[str, ...], key: str = "pos") -> Positions:
    """Where to impair: every position, the last one, or chosen token positions."""
    where = st.radio("Positions", options(key), horizontal=True, key=key, bind="query-params",
                     help="which token positions the impairment touches")
    if where != "chosen":
        return where
    # The positions exist only in this prompt: the rule of {key}_at is Text, the widget narrows it.
    chosen = st.multiselect("Token positions", labels, default=[labels[-1]], key=f"{key}_at", bind="query-params")
    return tuple(labels.index(c) for c in chosen) or "last"


def impair_controls(engine: Engine, model: str, prompt: str, mean_texts: tuple[str, ...]) -> ImpairSetup:
    """Draw the controls; ClusterError if the chosen cluster does not fit the model.

    The cluster picker opens on the cluster of the prompt's topic when the prompt is a demo keyword prompt.
    """
    cols = st.columns([2, 1, 2])
    with cols[0]:
        cluster = pick_cluster(engine, topic=prompt_topic(prompt))
    # No format_func: a bound selectbox writes the shown text into the URL, and the link rule holds the ids.
    mode = cols[1].selectbox("Mode", options("mode"), key="mode", bind="query-params",
                             help="noise: add Gaussian noise; negative noise: the same, shifted so its maximum is 0; "
                                  "scale: multiply by a factor; zero / mean: replace by 0 / by the clean mean")
    with cols[2]:
        positions = pick_positions(token_labels(model, prompt))
    noisy = mode in NOISY_MODES
    c1, c2, c3 = st.columns(3)
    samples = c1.number_input("K samples", *limits("k"), 8, key="k", bind="query-params", disabled=not noisy,
                              help="noise draws per run; the chart shows their mean and spread")
    seed = c2.number_input("Seed", *limits("seed"), 0, key="seed", bind="query-params", disabled=not noisy,
                           help="the same seed gives the same noise")
    top = c3.number_input("Noise slider max", *limits("noise_max"), SLIDERS["noise"][1], key="noise_max", bind="query-params",
                          disabled=not noisy, help="widen the noise range; noise that overflows the model is reported")
    means = mean_activations(model, cluster.site, mean_texts) if mode == "mean" else None
    return ImpairSetup(cluster, mode, positions, int(samples) if noisy else 1, int(seed), means, float(top))


def intensity_slider(mode: str, key: str = "intensity", top: float = SLIDERS["noise"][1]) -> float | None:
    """The intensity slider for ``mode`` (one URL key per range), or None for zero / mean ablation.

    Noise runs from 0 to ``top``; past the default range the step grows with it.
    """
    if mode not in SLIDERS:
        st.caption(f"“{MODE_LABELS[mode]}” replaces the units outright; it has no intensity.")
        return None
    _, hi, default, step = SLIDERS[mode]
    if mode == "scale":
        return st.slider("Scale factor (1 = clean)", *limits(f"{key}_scale"), default, step, key=f"{key}_scale",
                         bind="query-params")
    # Only a rule with hi_from (Impair, Compare: the noise_max box) follows ``top``; Edit's keeps its own range.
    lo, top = limits(f"{key}_noise", hi=top if RULES[f"{key}_noise"].hi_from else None)
    fine = step if top <= hi else top / 100
    return st.slider("Noise intensity (std of the added noise)", lo, top, min(default, top), fine,
                     key=f"{key}_noise", bind="query-params")


@st.cache_data(max_entries=1024, ttl=CACHE_TTL, show_spinner=False)
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
def live_panel(model: str, prompt: str, target: int | None, setup: ImpairSetup, target_text: str | None = None) -> None:
    """Slider + chart; reruns alone when the slider moves."""
    intensity = intensity_slider(setup.mode, top=setup.noise_max)
    ivs = setup.interventions(1.0 if intensity is None else intensity)
    result = attempt(next_token_probs, model, prompt, ivs, setup.samples, TOP_K, target)
    if result is None:
        return
    # The metrics sit above the chart but are filled after it, so the chart reaches the browser first.
    metrics = st.container()
    title = f"Next token after the prompt, {setup.cluster.name} impaired"
    fig = shared_figure(("impair", model, prompt, ivs, setup.samples, TOP_K, target, title),
                        lambda: plot_next_token_probs(result, title))
    show_figure(fig, "impair-probs", PROBS_CAPTION, key="impair_probs", table=lambda: probs_table(result))
    with metrics:
        show_metrics(result)
    generation_panel(model, prompt, ivs)
    x = 1.0 if intensity is None else intensity
    cli_snippet(impair_run(model, cluster_ref(setup.cluster), prompt, target_text, setup.mode, x, setup.seed,
                           setup.samples, setup.positions, TOP_K))


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
    with heavy_job("your curves"), progress_bar("Impairing the cluster at each intensity…",
                                                "{done}/{total} intensity runs") as tick:
        return attempt(impairment_curves, load_engine(model), setup.cluster, prompts, setup.mode, xs,
                       seeds=(setup.seed,), samples=min(setup.samples, 4), positions=setup.positions, progress=tick)


@st.fragment
def curves_panel(model: str, setup: ImpairSetup, prompts: tuple[KeywordPrompt, ...]) -> None:
    """A button that computes the curves with progress, then the curves and their downloads."""
    st.subheader("Impairment curves per topic")
    if not prompts:
        st.info("Impairment curves need the demo's keyword prompts (assets/demo/prompts); rebuild them with `.venv/bin/python -m world build`.")
        return
    if setup.mode not in SLIDERS:
        st.info("Zero and mean ablation have no intensity, so no curve: choose noise, negative noise or scale.")
        return
    c1, c2, c3 = st.columns(3)
    metric = c1.selectbox("Metric", options("metric"), index=2, key="metric", bind="query-params",
                          help="; ".join(f"{m}: {METRIC_LABELS[m]}" for m in METRICS))
    n_points = int(c2.number_input("Intensities", *limits("points"), 6, key="points", bind="query-params"))
    n_prompts = int(c3.number_input("Held-out prompts per topic", *limits("per_topic"), 15, key="per_topic",
                                    bind="query-params"))
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
    cli_snippet(impair_curves(model, cluster_ref(setup.cluster), setup.mode, xs, setup.seed, min(setup.samples, 4),
                              setup.positions, n_prompts, metric))


@st.fragment
def generation_panel(model: str, prompt: str, interventions: tuple[Intervention, ...]) -> None:
    """The clean and impaired continuations of the prompt, on demand (see ui.generate)."""
    show_continuations(model, prompt, interventions, "impaired", key="impair_gen")
