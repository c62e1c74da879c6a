"""Results cached per session-independent key: small numpy only, never full logits."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cluster.activations import unit_means
from engine.interventions import Intervention
from ui.engine_cache import load_engine
from ui.probs import NextTokenProbs, summarise_run
from ui.config import topic_of


@st.cache_data(max_entries=1024, show_spinner=False)
def next_token_probs(model: str, prompt: str, interventions: tuple[Intervention, ...], samples: int,
                     k: int, target: int | None) -> NextTokenProbs:
    """Top-k clean vs impaired next-token probabilities; keyed by the hashable intervention specs."""
    engine = load_engine(model)
    run = engine.run(prompt, interventions, samples=samples)
    return summarise_run(run, engine.token_strs, k=k, target_id=target)


@st.cache_data(max_entries=32, show_spinner="Measuring mean activations…")
def mean_activations(model: str, site: str, texts: tuple[str, ...]) -> np.ndarray:
    """``(n_layers, width)`` clean mean of every unit at ``site`` over ``texts`` (for mean ablation)."""
    return unit_means(load_engine(model), texts, site)


@st.cache_data(max_entries=64, show_spinner=False)
def token_labels(model: str, prompt: str) -> tuple[str, ...]:
    """``"i: token"`` per position of ``prompt`` (Plotly merges repeated labels, so the position leads)."""
    engine = load_engine(model)
    return tuple(f"{i}: {t!r}" for i, t in enumerate(engine.token_strs(engine.encode(prompt))))



@st.cache_data(max_entries=256, show_spinner=False)
def prompt_topic(prompt: str) -> str | None:
    """The demo topic of ``prompt`` (None for a free-text prompt); the prompt files are read once per prompt."""
    return topic_of(prompt)
