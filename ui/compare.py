"""The Compare page: CKA of clean vs impaired activations, and of two models (the second one picked here)."""

from __future__ import annotations

from itertools import islice, zip_longest

import pandas as pd
import streamlit as st

from compare.layers import CkaResult, ModelCkaResult, cka_between_models, cka_clean_vs_impaired
from compare.plots import plot_cka_layers, plot_cka_models
from engine.interventions import Intervention
from ui.clusters import cluster_ref
from ui.commands import compare_impaired, compare_models
from ui.config import compare_allow_list
from ui.impair import ImpairSetup, intensity_slider
from promptsets.schema import KeywordPrompt
from ui.links import chars, limits
from ui.shell import CACHE_TTL, attempt, cli_snippet, load_engine, md_escape, show_figure

LAYERS_CAPTION = ("Each bar is one layer: linear CKA between the clean and the impaired activations over the "
                  "prompt's positions (1 = same geometry, lower = the impairment reshaped that layer).")
MODELS_CAPTION = ("Each cell pairs a layer of model A (row) with a layer of model B (column); colour = linear CKA "
                  "of their activations on the same tokens (yellow 1 = same geometry, dark 0 = unrelated).")
FEW_POSITIONS = 8
EVERY_TOPIC = "every topic"


def pooled_prompts(prompts: tuple[KeywordPrompt, ...], which: str, n: int) -> tuple[str, ...]:
    """``n`` held-out keyword prompts of topic ``which``, or of every topic in turn (so none dominates)."""
    by_topic: dict[str, list[str]] = {}
    for p in prompts:
        if p.split == "heldout" and which in (EVERY_TOPIC, p.topic):
            by_topic.setdefault(p.topic, []).append(p.prompt)
    rounds = zip_longest(*by_topic.values())
    return tuple(islice((t for r in rounds for t in r if t is not None), n))


def pool_picker(prompts: tuple[KeywordPrompt, ...]) -> tuple[str, ...]:
    """Which demo prompts are pooled with the sidebar's (CKA needs many positions), said and listed."""
    topics = sorted({p.topic for p in prompts if p.split == "heldout"})
    if not topics:
        st.caption("Only the sidebar's prompt is compared (the demo's keyword prompts are not built).")
        return ()
    c1, c2 = st.columns(2)
    # The topics are the demo's: the rule of cka_set is Text, the widget narrows it.
    which = c1.selectbox("Pooled prompts", (EVERY_TOPIC, *topics), key="cka_set", bind="query-params",
                         help="held-out keyword prompts pooled with yours: every topic in turn, or one topic's")
    n = int(c2.number_input("How many", *limits("cka_pool"), 24, key="cka_pool", bind="query-params",
                            help="CKA needs many positions; these prompts' positions are pooled with yours"))
    extra = pooled_prompts(prompts, which, n)
    with st.expander(md_escape(f"Pooled with your prompt: {len(extra)} held-out keyword prompts ({which})"),
                     icon=":material/list:"):
        st.text("\n".join(extra) or "none")
    return extra


@st.cache_data(max_entries=256, ttl=CACHE_TTL, show_spinner=False)
def cached_cka_impaired(model: str, prompts: tuple[str, ...], interventions: tuple[Intervention, ...],
                        site: str) -> CkaResult:
    """Per-layer CKA, clean vs impaired, positions of all ``prompts`` pooled (small: one number per layer)."""
    return cka_clean_vs_impaired(load_engine(model), prompts, interventions, site)


@st.cache_data(max_entries=32, ttl=CACHE_TTL, show_spinner="Comparing the two models…")
def cached_cka_models(model_a: str, model_b: str, prompts: tuple[str, ...], site: str) -> ModelCkaResult:
    """Layer x layer CKA between two models that share a tokenizer."""
    return cka_between_models(load_engine(model_a), load_engine(model_b), prompts, site)


def warn_if_few(n_positions: int) -> None:
    """CKA over a handful of positions is close to 1 whatever happens; say so."""
    if n_positions < FEW_POSITIONS:
        st.warning(f"Only {n_positions} token positions: CKA over so few points is near 1 by construction. "
                   "Pool more prompts above.")


@st.fragment
def impaired_cka_panel(model: str, prompts: tuple[str, ...], setup: ImpairSetup, site: str) -> None:
    """Intensity slider + per-layer CKA bars; reruns alone."""
    intensity = intensity_slider(setup.mode, key="cka_intensity", top=setup.noise_max)
    ivs = setup.interventions(1.0 if intensity is None else intensity)
    result = attempt(cached_cka_impaired, model, prompts, ivs, site)
    if result is None:
        return
    warn_if_few(result.n_positions)
    show_figure(plot_cka_layers(result, f"{setup.cluster.name}, {setup.mode}"), "cka-clean-vs-impaired",
                LAYERS_CAPTION, key="cka_layers",
                table=pd.DataFrame({"layer": range(len(result.cka)), "cka": result.cka}))
    cli_snippet(compare_impaired(model, cluster_ref(setup.cluster), setup.mode, 1.0 if intensity is None else intensity,
                                 setup.seed, site, prompts))


def second_model_picker(workshop: bool) -> str:
    """The second model's name, "" for none: typed freely, or in a workshop one of the teacher's LENSLAB_COMPARE list."""
    if not workshop:
        return st.text_input("Second model (B)", value="", key="model_b", bind="query-params", max_chars=chars("model_b"),
                             placeholder="a local folder or cached Hugging Face name with the same tokenizer",
                             help='"demo" compares the demo model with itself (every diagonal cell is 1)').strip()
    allowed = compare_allow_list()
    if not allowed:
        st.caption("This workshop offers no second model.")
        return ""
    choice = st.selectbox("Second model (B)", allowed, index=None, key="model_b_pick",
                          placeholder="one of the workshop's models…")
    return choice or ""


def models_cka_panel(model_a: str, model_b: str, prompts: tuple[str, ...], site: str) -> None:
    """Layer x layer CKA heatmap between the sidebar's model and ``model_b``."""
    result = attempt(cached_cka_models, model_a, model_b, prompts, site)
    if result is None:
        return
    warn_if_few(result.n_positions)
    n_a, n_b = result.cka.shape
    table = pd.DataFrame([{"layer_a": i, "layer_b": j, "cka": result.cka[i, j]} for i in range(n_a) for j in range(n_b)])
    show_figure(plot_cka_models(result), "cka-models", MODELS_CAPTION, key="cka_models", table=table)
    cli_snippet(compare_models(model_a, model_b, site, prompts))
