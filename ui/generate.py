"""Clean and intervened continuations side by side: the panel the Impair, Memory and Edit pages share."""

from __future__ import annotations

import streamlit as st

from engine.interventions import Intervention
from ui.shell import CACHE_TTL, attempt, load_engine

NEW_TOKENS = 20
CAPTION = (f"Greedy continuations of the prompt ({NEW_TOKENS} new tokens at most), without and with the "
           "intervention; it acts on the generated tokens too where it acts on all (or the last) positions, "
           "and noise uses its first sample.")


@st.cache_data(max_entries=256, ttl=CACHE_TTL, show_spinner="Generating…")
def cached_continuation(model: str, prompt: str, interventions: tuple[Intervention, ...]) -> str:
    """The greedy continuation of ``prompt`` under ``interventions``, keyed by their hashable values."""
    return load_engine(model).generate(prompt, interventions, max_new_tokens=NEW_TOKENS).text


def show_continuations(model: str, prompt: str, interventions: tuple[Intervention, ...], what: str,
                       key: str) -> None:
    """A toggle; when on, the clean and the ``what`` continuations in two columns (plain text, never Markdown)."""
    if not st.toggle(f"Continue the prompt: clean and {what}", key=key,
                     help="generate a few tokens with and without the intervention (computed when turned on)"):
        return
    clean = attempt(cached_continuation, model, prompt, ())
    changed = attempt(cached_continuation, model, prompt, tuple(interventions))
    if clean is None or changed is None:
        return
    c1, c2 = st.columns(2)
    c1.caption("clean")
    c1.text("…" + clean)
    c2.caption(what)
    c2.text("…" + changed)
    st.caption(CAPTION)
