"""The Patch page: a clean/corrupted prompt pair (typed, or a demo pair), the metric and direction,
and one heatmap per site family with its downloads and reproduce command."""

from __future__ import annotations

from pathlib import Path
from shlex import quote

import pandas as pd
import streamlit as st

from patch.compute import PatchResult, PatchSpec, patch_sites
from patch.pairs import PromptPair, fact_pairs
from patch.plots import GRIDS, patch_rows, plot_patch
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS
from ui.commands import PYTHON, repo_path
from ui.links import chars, options
from ui.shell import CACHE_TTL, attempt, cli_snippet, load_engine, md_escape, shared_figure, show_figure

FIELDS = ("patch_clean", "patch_corrupted", "patch_answer", "patch_bad_answer")
METRIC_HELP = ("logit_diff: logit of the clean answer minus logit of the corrupted answer; "
               "prob: probability of the clean answer")
DIRECTION_HELP = ("denoise: clean activations patched into the corrupted run; "
                  "noise: corrupted activations patched into the clean run")
CAPTIONS = {
    "resid": "Each cell patches the residual stream entering one layer at one position; ",
    "heads": "Each cell patches one head's output at the last position; ",
    "mlp": "Each cell patches one MLP's output at one position; ",
}
SHARE_CAPTION = ("colour = the share of the clean-vs-corrupted gap the patched run shows "
                 "(red 0: the corrupted run's value, blue 1: the clean run's, white 0.5).")


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def demo_pairs(model: str) -> tuple[PromptPair, ...]:
    """Pairs from the demo facts with prompts of equal token lengths (none for another model or without the sets)."""
    if Path(model).resolve() != DEMO_DIR.resolve() or not (Path(DEMO_PROMPTS) / "facts.jsonl").is_file():
        return ()
    return tuple(attempt(fact_pairs, load_engine(model), DEMO_PROMPTS) or ())


@st.cache_data(max_entries=64, ttl=CACHE_TTL, show_spinner="Patching every site…")
def cached_patch(model: str, spec: PatchSpec) -> PatchResult:
    """Every site's share (small arrays), keyed by the frozen spec."""
    return patch_sites(load_engine(model), spec)


def _use_pair() -> None:
    """Copy the picked pair into the four (URL-bound) text boxes."""
    pair = st.session_state.get("_patch_pair")
    if pair is not None:
        values = (pair.clean, pair.corrupted, pair.clean_answer, pair.corrupted_answer)
        st.session_state.update(dict(zip(FIELDS, values)))


def pair_inputs(model: str, prompt: str, target: str | None) -> PatchSpec | None:
    """The pair picker and the four text boxes; None (with a hint) until the pair is complete."""
    pairs = demo_pairs(model)
    if pairs:
        st.selectbox("Pair from the demo facts", pairs, index=None, format_func=lambda p: p.label,
                     key="_patch_pair", on_change=_use_pair, placeholder=f"{len(pairs)} pairs of the same length…")
    first = pairs[0] if pairs else None
    defaults = (first.clean, first.corrupted, first.clean_answer, first.corrupted_answer) if first \
        else (prompt, "", target or "", "")
    c1, c2 = st.columns(2)
    clean = c1.text_input("Clean prompt", value=defaults[0], key=FIELDS[0], bind="query-params",
                          max_chars=chars(FIELDS[0]))
    corrupted = c2.text_input("Corrupted prompt (same number of tokens)", value=defaults[1], key=FIELDS[1],
                              bind="query-params", max_chars=chars(FIELDS[1]))
    answer = c1.text_input("Clean answer", value=defaults[2], key=FIELDS[2], bind="query-params",
                           max_chars=chars(FIELDS[2]), help="with its leading space, e.g. ' football'")
    bad = c2.text_input("Corrupted answer", value=defaults[3], key=FIELDS[3], bind="query-params",
                        max_chars=chars(FIELDS[3]))
    if not (clean.strip() and corrupted.strip() and answer.strip()):
        st.info("Type a clean prompt, a corrupted prompt of the same length, and the clean answer "
                "(or pick a demo pair).")
        return None
    return PatchSpec(clean, corrupted, answer, bad or None)


def patch_command(model: str, spec: PatchSpec) -> str:
    """``python -m patch`` with the page's settings."""
    bad = f" --corrupted-answer {quote(spec.corrupted_answer)}" if spec.corrupted_answer else ""
    return (f"{PYTHON} -m patch --model {quote(repo_path(model))} --clean {quote(spec.clean)} "
            f"--corrupted {quote(spec.corrupted)} --answer {quote(spec.clean_answer)}{bad} "
            f"--metric {spec.metric} --direction {spec.direction}")


def grid_table(result, grid: str) -> pd.DataFrame:
    """One heatmap's rows of the patch table (built when its CSV is asked for)."""
    table = pd.DataFrame(patch_rows(result))
    return table[table.site == grid]


@st.fragment
def patch_panel(model: str, base: PatchSpec) -> None:
    """Metric and direction, then the three heatmaps; reruns alone."""
    c1, c2 = st.columns(2)
    # No format_func: a bound widget writes the shown text into the URL, and the ids read better there.
    metric = c1.radio("Metric", options("patch_metric"), key="patch_metric", bind="query-params", horizontal=True,
                      help=METRIC_HELP)
    direction = c2.radio("Direction", options("patch_dir"), key="patch_dir", bind="query-params", horizontal=True,
                         help=DIRECTION_HELP)
    spec = PatchSpec(base.clean, base.corrupted, base.clean_answer, base.corrupted_answer, metric, direction)
    result = attempt(cached_patch, model, spec)
    if result is None:
        return
    m1, m2 = st.columns(2)
    m1.metric("metric on the clean prompt", f"{result.clean_metric:.4f}")
    m2.metric("metric on the corrupted prompt", f"{result.corrupted_metric:.4f}")
    st.caption(md_escape(f"answers: {', '.join(repr(t) for t in result.answer_tokens)}"))
    for grid in GRIDS:
        fig = shared_figure(("patch", model, spec, grid), lambda: plot_patch(result, grid))
        show_figure(fig, f"patch-{grid}", CAPTIONS[grid] + SHARE_CAPTION, key=f"patch_{grid}",
                    table=lambda grid=grid: grid_table(result, grid))
    cli_snippet(patch_command(model, spec))
