"""The Impair page's controls, turned into one setup value the live panel impairs with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from cluster.activations import unit_means
from cluster.impair import impairs
from cluster.spec import Cluster
from engine import Engine
from engine.interventions import IMPAIR_MODES, Impair, Positions
from ui.shell import load_engine, prompt_topic, token_labels
from ui.clusters import pick_cluster

MODE_LABELS = {"noise": "noise", "negative_noise": "negative noise", "scale": "scale",
               "zero": "zero", "mean": "mean"}
NOISY = ("noise", "negative_noise")
# mode -> (min, max, default, step) of the intensity slider; zero and mean have none.
SLIDERS = {"noise": (0.0, 10.0, 2.0, 0.1), "negative_noise": (0.0, 10.0, 2.0, 0.1),
           "scale": (0.0, 1.0, 0.5, 0.05)}


@st.cache_data(max_entries=32, show_spinner="Measuring mean activations…")
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
    where = st.radio("Positions", ("all", "last", "chosen"), horizontal=True, key=key, bind="query-params",
                     help="which token positions the impairment touches")
    if where != "chosen":
        return where
    chosen = st.multiselect("Token positions", labels, default=[labels[-1]], key=f"{key}_at", bind="query-params")
    return tuple(labels.index(c) for c in chosen) or "last"


def impair_controls(engine: Engine, model: str, prompt: str, mean_texts: tuple[str, ...]) -> ImpairSetup:
    """Draw the controls; ClusterError if the chosen cluster does not fit the model.

    The cluster picker opens on the cluster of the prompt's topic when the prompt is a demo keyword prompt.
    """
    cols = st.columns([2, 1, 2])
    with cols[0]:
        cluster = pick_cluster(engine, topic=prompt_topic(prompt))
    mode = cols[1].selectbox("Mode", IMPAIR_MODES, format_func=MODE_LABELS.get, key="mode", bind="query-params",
                             help="noise: add Gaussian noise; negative noise: the same, shifted so its maximum is 0; "
                                  "scale: multiply by a factor; zero / mean: replace by 0 / by the clean mean")
    with cols[2]:
        positions = pick_positions(token_labels(model, prompt))
    noisy = mode in NOISY
    c1, c2, c3 = st.columns(3)
    samples = c1.number_input("K samples", 1, 64, 8, key="k", bind="query-params", disabled=not noisy,
                              help="noise draws per run; the chart shows their mean and spread")
    seed = c2.number_input("Seed", 0, 1_000_000, 0, key="seed", bind="query-params", disabled=not noisy,
                           help="the same seed gives the same noise")
    top = c3.number_input("Noise slider max", 0.1, 1e38, SLIDERS["noise"][1], key="noise_max", bind="query-params",
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
    lo, hi, default, step = SLIDERS[mode]
    if mode == "scale":
        return st.slider("Scale factor (1 = clean)", lo, hi, default, step, key=f"{key}_scale", bind="query-params")
    fine = step if top <= hi else top / 100
    return st.slider("Noise intensity (std of the added noise)", lo, top, min(default, top), fine,
                     key=f"{key}_noise", bind="query-params")
