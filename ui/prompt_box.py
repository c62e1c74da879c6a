"""The sidebar's prompt box: its limit follows what the model reads, and a caption counts tokens.

The page refuses a prompt the model cannot read (one error); the box only counts.
"""

from __future__ import annotations

import streamlit as st

from ui.config import PROMPT_URL_CHARS, max_prompt_chars, workshop_mode
from ui.shell import CACHE_TTL, USER_ERRORS, load_engine


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def prompt_limit_of(model: str) -> tuple[int, int]:
    """(tokens the model reads, the prompt box's max_chars). Past ``n_ctx`` times the longest token no
    text fits the model, so the box never cuts a prompt the model could read: it is refused by count."""
    engine = load_engine(model)
    longest = max(map(len, engine.tokenizer.get_vocab()), default=1)
    return engine.spec.n_ctx, min(PROMPT_URL_CHARS, engine.spec.n_ctx * longest + 1)


def prompt_limit(model: str) -> tuple[int, int] | None:
    """``prompt_limit_of``, or None when the model does not load (the page says why)."""
    try:
        return prompt_limit_of(model)
    except USER_ERRORS:
        return None


@st.cache_data(max_entries=256, ttl=600, show_spinner=False)
def _n_tokens(model: str, prompt: str) -> int:
    return len(load_engine(model).tokenizer.encode(prompt))


def count_tokens(model: str, prompt: str, limit: tuple[int, int] | None) -> None:
    """A caption under the prompt box: its length in tokens against what the model reads (the page shows the error)."""
    if limit is None or not prompt:
        return
    n = _n_tokens(model, prompt)
    over = " (too long: shorten it)" if n > limit[0] else ""
    chars = f"; {len(prompt):,} of {max_prompt_chars():,} characters" if workshop_mode() else ""
    st.caption(f"{n:,} of {limit[0]:,} tokens{chars}{over}")
