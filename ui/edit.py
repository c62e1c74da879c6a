"""The Edit page: its controls (the fact to edit, a demo fact or typed, and the method, as frozen
values), the before/after panel, and the robustness panel (slider, live numbers, curves).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from cluster.impair import impairs
from cluster.spec import Cluster
from edit.methods import EditResult, apply_edit
from edit.plots import plot_before_after, plot_robustness
from edit.score import EditCase, EditScores, case_for, demo_texts, learned_items, new_objects, robustness_curves, score_edit
from edit.spec import EditSpec, Fact, answer_token_id
from engine import Engine
from engine.interventions import WeightDelta
from promptsets.paths import DEMO_CLUSTERS, DEMO_PROMPTS
from promptsets.schema import FACTS_FILE, FactPrompt, load_fact_prompts
from ui.clusters import pick_cluster
from ui.commands import edit_apply, edit_sweep
from ui.generate import show_continuations
from ui.impair import intensity_slider
from ui.jobs import heavy_job
from ui.links import chars, limits, options
from ui.shell import CACHE_TTL, attempt, cli_snippet, load_engine, md_escape, progress_bar, show_figure, token_list

SAMPLES = 8
GRIDS = {"noise": tuple(float(x) for x in range(9)), "negative_noise": tuple(float(x) for x in range(9)),
         "scale": tuple(round(1 - 0.1 * i, 2) for i in range(11))}
BARS_CAPTION = ("Each pair of bars is one prompt: grey = p(target) before the edit, red = after it. The target is the "
                "new object for the edit prompt and its paraphrases, and the old answer for neighbouring subjects.")
CURVES_CAPTION = ("Top-1 accuracy of the edited fact (red) and of facts the model learnt (blue) as the impairment "
                  "grows; dotted: random clusters of the same size per layer. Lower halving intensity = more fragile.")


@st.cache_data(ttl=300, show_spinner=False)
def demo_facts() -> tuple[FactPrompt, ...]:
    """The demo's single-hop facts (empty when the prompt set is missing)."""
    return tuple(load_fact_prompts(DEMO_PROMPTS)) if (DEMO_PROMPTS / FACTS_FILE).is_file() else ()


def _clean_top(engine: Engine, prompt: str) -> str:
    return engine.token_strs([int(engine.run(prompt).probs_mean.argmax())])[0]


def pick_case(engine: Engine, prompt: str, is_demo: bool) -> EditCase | None:
    """The fact to edit: the sidebar prompt's demo fact (pick a new object), or a typed subject and object.

    None (with a hint shown) until the typed fields are filled; EditSpecError for a malformed fact.
    """
    facts = demo_facts() if is_demo else ()
    row = next((f for f in facts if f.prompt == prompt.strip()), None)
    if row is not None:
        choices = new_objects(row, facts)
        c1, c2 = st.columns([2, 3])
        c1.markdown(f"**Fact** ({row.relation}): {row.subject} →`{row.answer}`")
        # The objects depend on the fact: the rule of edit_new is Text, the widget narrows it.
        new = c2.selectbox("New object", choices, index=min(1, len(choices) - 1), key="edit_new", bind="query-params",
                           help="another object this relation takes in the demo world")
        return case_for(row, new, facts)
    st.caption("The prompt is not one of the demo's facts: type its subject and the new object "
               "(pick a prompt of the “facts” set in the sidebar for paraphrases and neighbours).")
    c1, c2 = st.columns(2)
    subject = c1.text_input("Subject (as the prompt spells it)", key="edit_subject", bind="query-params",
                            max_chars=chars("edit_subject"))
    new = c2.text_input("New object (with its leading space)", key="edit_new_text", bind="query-params",
                        max_chars=chars("edit_new_text"),
                        placeholder="e.g. ' football'")
    if not subject.strip() or not new.strip():
        st.info("Type the subject and the new object to edit the fact.")
        return None
    ids = engine.token_ids(new, "new object")
    if len(ids) > 1:
        st.warning(md_escape(f"The new object {new[:60]!r} is {len(ids)} tokens ({token_list(engine, ids)}); an edit "
                             "writes one next token, so it is not cut to its first: type a single token."),
                   icon=":material/call_split:")
        return None
    return EditCase(Fact(prompt, subject, new, _clean_top(engine, prompt)))


def pick_spec(engine: Engine) -> EditSpec:
    """Method, layer and the method's own parameter (rank or alpha)."""
    c1, c2, c3 = st.columns([2, 2, 2])
    # No format_func: a bound selectbox writes the shown text into the URL, and the ids read better there.
    method = c1.selectbox("Method", options("edit_method"), key="edit_method", bind="query-params",
                          help="rank-one: closed form (ROME-style); low-rank: rank r trained by gradient; "
                               "fine-tune: the whole matrix; 1-LI: the fine-tune, interpolated back by alpha")
    n_layers = engine.spec.n_layers
    lo, hi = limits("edit_layer", hi=n_layers - 1)
    layer = c2.slider("Layer", lo, hi, min(1, hi), key="edit_layer", bind="query-params",
                      help="the block whose MLP output weights the edit changes")
    rank, alpha = 4, 0.5
    if method == "low_rank":
        rank = int(c3.number_input("Rank r", *limits("edit_rank"), 4, key="edit_rank", bind="query-params"))
    elif method == "interp":
        alpha = c3.slider("Alpha (0 = original, 1 = fine-tuned)", *limits("edit_alpha"), 0.5, 0.05, key="edit_alpha",
                          bind="query-params")
    return EditSpec(method=method, layer=layer, rank=rank, alpha=alpha)


@st.cache_data(max_entries=64, ttl=CACHE_TTL, show_spinner="Editing…")
def cached_edit(model: str, case: EditCase, spec: EditSpec) -> EditResult:
    """One edit (its WeightDelta is small and hashable), trained once per (model, fact, spec)."""
    return apply_edit(load_engine(model), case.fact, spec, demo_texts(model, 0)[0])


@st.cache_data(max_entries=64, ttl=CACHE_TTL, show_spinner="Scoring the edit…")
def cached_scores(model: str, case: EditCase, delta: WeightDelta) -> EditScores:
    """Before/after rows and the four scores (general damage on the demo's held-out documents)."""
    return score_edit(load_engine(model), case, delta, demo_texts(model, 24)[1])


@st.cache_data(max_entries=512, ttl=CACHE_TTL, show_spinner=False)
def live_accuracy(model: str, case: EditCase, delta: WeightDelta, cluster: Cluster, mode: str,
                  intensity: float) -> tuple[float, float, float]:
    """(edited fact accuracy, its mean p(new), learned facts' accuracy) at one intensity, over K samples."""
    engine = load_engine(model)
    ivs = impairs(cluster, mode, intensity)
    run = engine.run(case.fact.prompt, (delta, *ivs), samples=SAMPLES)
    new = answer_token_id(engine, case.fact.new, case.fact.prompt)
    learned = [float((engine.run(p, ivs, samples=SAMPLES).logits.argmax(-1) == t).float().mean())
               for p, t in learned_items(engine, case)]
    return (float((run.logits.argmax(-1) == new).float().mean()), float(run.probs_mean[new]),
            float(np.mean(learned)) if learned else float("nan"))


def rows_table(scores: EditScores) -> pd.DataFrame:
    """One row per prompt, before and after."""
    return pd.DataFrame([{"kind": r.kind, "prompt": r.prompt, "target": r.target, "p_before": r.p_before,
                          "p_after": r.p_after, "top_before": r.top_before, "top_after": r.top_after}
                         for r in scores.rows])


def before_after(model: str, case: EditCase, result: EditResult) -> EditScores | None:
    """The four scores as metrics, then the before/after bars with their downloads and command."""
    scores = attempt(cached_scores, model, case, result.delta)
    if scores is None:
        return None
    m = st.columns(4)
    m[0].metric("Efficacy (p new)", f"{scores.efficacy_p:.3f}", help=f"trained {result.steps} steps")
    m[1].metric("Generalisation", "–" if np.isnan(scores.generalisation) else f"{scores.generalisation:.0%}",
                help="share of paraphrases whose top-1 is the new object")
    m[2].metric("Specificity", "–" if np.isnan(scores.specificity) else f"{scores.specificity:.0%}",
                help="share of neighbouring subjects whose top-1 is unchanged")
    m[3].metric("General damage", "–" if np.isnan(scores.damage) else f"{scores.damage:+.4f}",
                help="held-out text loss change, nats per token", delta_color="inverse")
    show_figure(plot_before_after(scores.rows, f"{result.spec.label}, layer {result.spec.layer}"), "edit-before-after",
                BARS_CAPTION, key="edit_bars", table=rows_table(scores))
    return scores


@st.fragment
def robustness_panel(model: str, case: EditCase, result: EditResult) -> None:
    """Cluster, mode and intensity slider with live accuracies; the curves on demand."""
    st.subheader("Robustness: edited against learned facts")
    engine = load_engine(model)
    c1, c2 = st.columns([3, 1])
    with c1:
        cluster = attempt(pick_cluster, engine, "edit_cluster", case.topic or None)
    # No format_func: a bound selectbox writes the shown text into the URL, and the link rule holds the ids.
    mode = c2.selectbox("Mode", options("edit_mode"), key="edit_mode", bind="query-params")
    if cluster is None:
        return
    x = intensity_slider(mode, key="edit_intensity")
    live = attempt(live_accuracy, model, case, result.delta, cluster, mode, x)
    if live is not None:
        m = st.columns(3)
        m[0].metric("Edited fact: top-1 accuracy", f"{live[0]:.0%}", help=f"over {SAMPLES} noise samples")
        m[1].metric("Edited fact: p(new)", f"{live[1]:.3f}")
        m[2].metric("Learned facts: top-1 accuracy", f"{live[2]:.0%}", help="this prompt's old answer and neighbours")
    shipped = Path(DEMO_CLUSTERS) / f"{cluster.name}.json"
    spec = result.spec
    cli_snippet(edit_apply(model, case.fact.prompt, case.fact.subject, case.fact.new, spec.method, spec.layer,
                           spec.rank, spec.alpha, str(shipped) if shipped.is_file() else None, mode)
                # The sweep is a comment: the box, pasted whole, reproduces only the number on screen.
                + "\n# the same for 50 demo edits per method (minutes):\n# "
                + edit_sweep(model, spec.layer, spec.rank, spec.alpha, mode))
    key = (model, case, result.delta, cluster, mode)
    store = st.session_state.setdefault("_edit_curves", {})
    if st.button("Measure robustness curves", key="edit_curves_btn", type="primary"):
        with heavy_job("your robustness curves"), progress_bar("Impairing at every intensity…",
                                                            "{done}/{total} runs over the intensities") as tick:
            store[key] = attempt(robustness_curves, engine, case, result.delta, cluster, mode, GRIDS[mode], SAMPLES,
                                 baseline_seeds=(0,), progress=tick)
    curves = store.get(key)
    if curves is None:
        st.caption("Press the button for accuracy against intensity, edited vs learned, with a random-cluster control.")
        return
    table = pd.DataFrame({"intensity": curves.intensities, "edited": curves.edited, "learned": curves.learned,
                          "edited_random": curves.edited_random, "learned_random": curves.learned_random})
    show_figure(plot_robustness(curves, at=x), "edit-robustness", CURVES_CAPTION, key="edit_robust", table=table)


@st.fragment
def generation_panel(model: str, prompt: str, delta: WeightDelta) -> None:
    """The continuations of the edit prompt before and after the edit, on demand (see ui.generate)."""
    show_continuations(model, prompt, (delta,), "edited", key="edit_gen")
