"""The sidebar every page shares: model, prompt and target token, kept in the URL."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ui.config import (DEMO_NAME, PROMPT_URL_CHARS, STARTERS, PromptChoice, available_sets, default_choice,
                       device_label, load_set, max_prompt_chars, resolve_model, workshop_mode)
from ui.text import md_escape
from world.prompts import PromptSetError

FALLBACK_PROMPT = "The founder of Pothasix was born in"
FREE_TEXT = "(type your own)"
SELECTION_KEY = "_lenslab_selection"


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: ``model`` as Engine.load takes it, the prompt, and the target text (None = top-1)."""

    model: str
    prompt: str
    target: str | None
    workshop: bool


@st.cache_data(ttl=300, show_spinner=False)
def _default() -> PromptChoice | None:
    try:
        return default_choice()
    except PromptSetError:
        return None


@st.cache_data(ttl=300, show_spinner=False)
def _load_set(name: str):
    return load_set(name)


def _pick_prompt() -> None:
    """Copy the picked set prompt into the (URL-bound) prompt and target boxes."""
    choice = st.session_state.get("_pick")
    if choice is not None:
        st.session_state["prompt"] = choice.prompt
        st.session_state["target"] = choice.answer
        if choice.memory:
            st.session_state["memory"] = choice.memory


def _prompt_picker(workshop: bool) -> None:
    sets = available_sets()
    names = ((STARTERS,) if sets else ()) + sets
    if not names:
        return
    name = st.selectbox("Prompt set", names, index=0 if workshop else None, key="_set",
                        placeholder="pick a demo prompt set…")
    if name is None:
        return
    try:
        choices = _load_set(name)
    except PromptSetError as err:
        st.error(md_escape(err))
        return
    st.selectbox("Prompt from the set", choices, index=None, format_func=lambda c: c.label,
                 key="_pick", on_change=_pick_prompt, placeholder=f"{len(choices)} prompts…")


def render_sidebar() -> Selection:
    """Draw the sidebar and remember its Selection for the pages (see ``selection``)."""
    workshop = workshop_mode()
    with st.sidebar:
        if workshop:
            st.info("Workshop mode: the demo model is pinned and prompts are short.")
            model = st.text_input("Model", value=DEMO_NAME, disabled=True)
        else:
            model = st.text_input("Model", value=DEMO_NAME, key="model", bind="query-params",
                                  help='"demo" for the shipped model, or a local folder, or a Hugging Face name in your cache')
        _prompt_picker(workshop)
        first = _default()
        # The box takes more than the limit so an over-long paste is kept and reported, not cut silently.
        prompt = st.text_area("Prompt", value=first.prompt if first else FALLBACK_PROMPT, key="prompt",
                              bind="query-params", max_chars=PROMPT_URL_CHARS, height=90,
                              help=f"at most {max_prompt_chars():,} characters")
        if len(prompt) > max_prompt_chars():
            st.error(f"The prompt has {len(prompt):,} characters; this app takes at most {max_prompt_chars():,}: "
                     "shorten it.", icon=":material/error:")
        target = st.text_input("Target token", value=first.answer if first else "", key="target", bind="query-params",
                               max_chars=200,
                               help="the next token whose probability and rank the pages follow, with its leading space "
                                    "(e.g. ' football'); empty = the model's top guess")
        st.caption(f"Runs on {device_label()}")
    sel = Selection(model=resolve_model(model), prompt=prompt,
                    target=target if target.strip() else None, workshop=workshop)
    st.session_state[SELECTION_KEY] = sel
    return sel


def selection() -> Selection:
    """The Selection the sidebar drew in this run."""
    return st.session_state[SELECTION_KEY]
