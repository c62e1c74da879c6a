"""The Memory page: a live injection (layer, scale sliders) and the layer x scale heatmap on demand."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine import Inject
from memory.inject import InjectionResult, InjectionSpec, build_memory, inject_at, inject_memory
from memory.plots import plot_layer_scale_heatmap, plot_top_tokens
from memory.sweep import DEFAULT_SCALES, LayerScaleSweep, SweepCase, SweepSpec, sweep_layer_scale
from ui.commands import memory_heatmap, memory_inject, positions_arg
from ui.generate import show_continuations
from ui.jobs import heavy_job
from ui.links import limits
from ui.shell import CACHE_TTL, attempt, cli_snippet, load_engine, md_escape, progress_bar, shared_figure, show_figure

STORE = "_memory_sweeps"
TOP_CAPTION = ("Each row is a token among the most likely next tokens with or without the memory: grey bar = "
               "its probability without the memory, red bar = with it injected.")
HEAT_CAPTION = ("Each cell is one (layer, scale) injection; colour = how many times more likely the answer "
                "became (blue: more, red: less, white: unchanged).")


@st.cache_data(max_entries=512, ttl=CACHE_TTL, show_spinner=False)
def cached_injection(model: str, prompt: str, answer: str | None, spec: InjectionSpec) -> InjectionResult:
    """One injection's before/after numbers (small), keyed by the frozen spec."""
    return inject_memory(load_engine(model), prompt, answer, spec, top_k=8)


@st.fragment
def live_injection(model: str, prompt: str, answer: str | None, base: InjectionSpec, n_layers: int) -> None:
    """Layer and scale sliders with the answer's probability before/after; reruns alone."""
    c1, c2 = st.columns(2)
    lo, hi = limits("mem_layer", hi=n_layers - 1)
    layer = c1.slider("Layer", lo, hi, min(hi, n_layers // 2), key="mem_layer", bind="query-params")
    scale = c2.slider("Scale τ", *limits("mem_scale"), 4.0, 0.5, key="mem_scale", bind="query-params")
    spec = InjectionSpec(base.memory, layer, scale, base.source, base.normalise, base.positions)
    result = attempt(cached_injection, model, prompt, answer, spec)
    if result is None:
        return
    m1, m2, m3 = st.columns(3)
    m1.metric(f"p({result.answer_token!r}) before", f"{result.p_before:.4f}")
    m2.metric("after injection", f"{result.p_after:.4f}", delta=f"{result.p_after - result.p_before:+.4f}")
    m3.metric("gain (after / before)", f"×{result.gain:.4g}")
    st.caption(md_escape(f"memory tokens: {', '.join(repr(t) for t in result.memory_tokens)}"))
    fig = shared_figure(("memory", model, prompt, answer, spec), lambda: plot_top_tokens(result))
    show_figure(fig, "memory-top-tokens", TOP_CAPTION, key="mem_top",
                table=lambda: pd.DataFrame([{"token": t, "p_before": b, "p_after": a} for t, b, a in result.top_both]))
    generation_panel(model, prompt, spec)
    cli_snippet(memory_inject(model, prompt, spec.memory, answer, spec.layer, spec.scale, spec.source,
                              spec.normalise, positions_arg(spec.positions)))


def sweep_table(sweep: LayerScaleSweep) -> pd.DataFrame:
    """One row per (case, layer, scale) with p_before, p_after and gain."""
    return pd.DataFrame([
        {"case": c.key, "prompt": c.prompt, "memory": c.memory, "layer": layer, "scale": scale,
         "p_before": sweep.p_before[i], "p_after": sweep.p_after[i, j, k], "gain": sweep.gain[i, j, k]}
        for i, c in enumerate(sweep.cases) for j, layer in enumerate(sweep.layers) for k, scale in enumerate(sweep.scales)
    ])


@st.fragment
def sweep_panel(model: str, prompt: str, answer: str, base: InjectionSpec) -> None:
    """A button that sweeps every layer x scale 1..15 on this prompt (with progress), then the heatmap."""
    st.subheader("Layer × scale heatmap")
    spec = SweepSpec(scales=DEFAULT_SCALES, source=base.source, normalise=base.normalise, positions=base.positions)
    key = (model, prompt, answer, base.memory, spec)
    store = st.session_state.setdefault(STORE, {})
    if st.button("Sweep layers × scales", key="mem_sweep", type="primary"):
        case = SweepCase("0", prompt, answer, base.memory)
        with heavy_job("your heatmap"), progress_bar("Injecting at every layer and scale…",
                                                  "{done}/{total} injections") as tick:
            store[key] = attempt(sweep_layer_scale, load_engine(model), [case], spec, progress=tick)
    sweep = store.get(key)
    if sweep is None:
        st.caption("Press the button to inject the memory at every layer with scales 1 to 15 on this prompt.")
        return
    show_figure(plot_layer_scale_heatmap(sweep, "gain"), "memory-heatmap", HEAT_CAPTION, key="mem_heat",
                table=sweep_table(sweep))
    cli_snippet(memory_heatmap(model, prompt, answer, base.memory, base.source, base.normalise, base.positions))


@st.cache_data(max_entries=256, ttl=CACHE_TTL, show_spinner=False)
def injection_of(model: str, spec: InjectionSpec) -> tuple[Inject, ...]:
    """The engine intervention that injects ``spec``'s memory (a hashable value)."""
    engine = load_engine(model)
    vector = build_memory(engine, spec.memory, spec.source, spec.normalise)
    return (inject_at(engine, vector, spec.layer, spec.scale, spec.positions),)


@st.fragment
def generation_panel(model: str, prompt: str, spec: InjectionSpec) -> None:
    """The clean and injected continuations of the prompt, on demand (see ui.generate)."""
    interventions = attempt(injection_of, model, spec)
    if interventions is not None:
        show_continuations(model, prompt, interventions, "with the memory", key="mem_gen")
