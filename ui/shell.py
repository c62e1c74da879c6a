"""The shell every page shares: the sidebar (model, prompt, target, kept in the URL), the page
opening (a title, the one shared Engine per model, a checked prompt), user errors shown as
``st.error``, the small results every page caches, and the downloads under every figure.

User text shown through Streamlit's Markdown (errors, captions, notes) is escaped, never
rendered: st.error, st.caption, st.success and st.markdown render Markdown, so a prompt, file
name or cluster name holding ``[link](url)``, ``**bold**``, ``$math$`` or ``:red[...]`` would
otherwise turn into a link or styling that a shared URL could plant.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from engine import Engine
from engine.adapter import LRU
from engine.errors import LensLabError, PromptTooLongError
from engine.tokens import answer_ids, piece_texts
from promptsets.paths import DEMO_PROMPTS
from promptsets.schema import KeywordPrompt, PromptSetError, load_keyword_prompts
from ui.config import (DEMO_NAME, OWN_SOURCE, PROMPT_SOURCES, STARTERS, PromptChoice, app_device,
                       app_dtype, available_sets, check_prompt_folder, default_choice, default_prompt_source,
                       device_label, load_set, max_prompt_chars, resolve_model, starters_file, topic_of,
                       torch_threads, workshop_mode, workshop_prompt_folder)
from ui.fetch import fetch_in_sidebar

T = TypeVar("T")

FALLBACK_PROMPT = "The founder of Grobaco was born in"
# Every cache keyed by what a session typed keeps at most max_entries results, each for at most
# this long: a room of distinct prompts cannot grow the server past the bounds in docs/workshop.md.
CACHE_TTL = 1800
SELECTION_KEY = "_lenslab_selection"
# Figures built for a live panel, shared read-only by every session (see ``shared_figure``).
FIGURES_KEPT = 256
# Every core package's user-facing error derives from the one root; plus a file the user
# named that does not exist. Anything else is a bug and surfaces as one.
USER_ERRORS: tuple[type[Exception], ...] = (LensLabError, FileNotFoundError)
# Emphasis, code, links and images, HTML and autolinks (``<``, ``https:``, ``www.``, ``a@b``), math,
# strikethrough, tables, entities, headings and Streamlit's ``:icon:`` / ``:red[...]`` directives.
_MARKDOWN = re.compile(r"([\\`*_\[\]()<>$:~|&@.#])")
# Streamlit's Markdown links bare URLs, ``www.`` names and e-mail addresses found in the text
# *after* escapes are undone, so escaping alone leaves them clickable. An invisible word joiner
# inside each trigger ("://", "www.", "@") breaks the pattern and leaves the text as it reads.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(://|(?<![^\W_])www(?=\.)|@)", re.IGNORECASE)


def inert(text: object) -> str:
    """``text`` with a word joiner inside every bare-URL, ``www.`` and e-mail trigger, so nothing autolinks."""
    return _AUTOLINK.sub(lambda m: m.group(0)[0] + WORD_JOINER + m.group(0)[1:], str(text))


def md_escape(text: object) -> str:
    """``text`` with every Markdown-significant character backslash-escaped and no autolink, so it shows as typed."""
    return _MARKDOWN.sub(r"\\\1", inert(text))


def show_error(err: Exception) -> None:
    """The core's message in a red box; it already says how to fix the input."""
    st.error(md_escape(err), icon=":material/error:")


def attempt(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)``, or None after showing its user error with st.error."""
    try:
        return fn(*args, **kwargs)
    except USER_ERRORS as err:
        show_error(err)
        return None


@contextmanager
def progress_bar(start: str, step: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for one long computation, cleared when it ends or fails.

    Yields the ``progress(done, total)`` callback the core's long functions take; ``step`` is
    formatted with ``done`` and ``total`` each time it is called.
    """
    bar = st.progress(0.0, text=start)
    try:
        yield lambda done, total: bar.progress(done / total, text=step.format(done=done, total=total))
    finally:
        bar.empty()


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def load_engine(model: str) -> Engine:
    """``Engine.load(model)`` on the app's device and dtype, cached across sessions.

    ModelLoadError propagates (and is not cached).
    """
    torch.set_num_threads(torch_threads())
    return Engine.load(model, device=app_device(), dtype=app_dtype(), offline=workshop_mode())


@st.cache_data(max_entries=64, ttl=CACHE_TTL, show_spinner=False)
def token_labels(model: str, prompt: str) -> tuple[str, ...]:
    """``"i: token"`` per position of ``prompt`` (Plotly merges repeated labels, so the position leads)."""
    engine = load_engine(model)
    return tuple(f"{i}: {t!r}" for i, t in enumerate(engine.token_strs(engine.encode(prompt))))


def _prompts_folder() -> str:
    """The prompt folder the sidebar chose in this run (the demo's before any sidebar ran, as in warm-up)."""
    sel = st.session_state.get(SELECTION_KEY) if get_script_run_ctx() is not None else None
    return sel.prompts if sel is not None and sel.prompts else str(DEMO_PROMPTS)


def prompt_topic(prompt: str) -> str | None:
    """The topic of ``prompt`` in the sidebar's prompt sets (None for a free-text prompt)."""
    return _prompt_topic(prompt, _prompts_folder())


@st.cache_data(max_entries=256, ttl=CACHE_TTL, show_spinner=False)
def _prompt_topic(prompt: str, folder: str) -> str | None:
    try:
        return topic_of(prompt, Path(folder))
    except PromptSetError:
        return None


def keyword_prompts() -> tuple[KeywordPrompt, ...]:
    """The keyword prompts of the sidebar's prompt sets, or none when that folder has no valid keywords.jsonl."""
    return _keyword_prompts(_prompts_folder())


@st.cache_data(max_entries=8, ttl=300, show_spinner=False)
def _keyword_prompts(folder: str) -> tuple[KeywordPrompt, ...]:
    try:
        return tuple(load_keyword_prompts(Path(folder)))
    except PromptSetError:
        return ()


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: ``model`` as Engine.load takes it, the prompt, and the target text (None = top-1)."""

    model: str
    prompt: str
    target: str | None
    workshop: bool
    prompts: str = ""  # the folder of the prompt sets the sidebar offers ("" for none)


@st.cache_data(max_entries=16, ttl=300, show_spinner=False)
def _default(folder: str) -> PromptChoice | None:
    try:
        return default_choice(Path(folder))
    except PromptSetError:
        return None


@st.cache_data(max_entries=16, ttl=300, show_spinner=False)
def _load_set(name: str, folder: str, source: tuple[str, float] | None):
    """A prompt set's choices; ``source`` (the starters file and its time stamp) re-reads an edited file."""
    return load_set(name, Path(folder))


def _source(name: str, folder: str) -> tuple[str, float] | None:
    path = starters_file(Path(folder))
    return (str(path), path.stat().st_mtime) if name == STARTERS and path and path.is_file() else None


def _pick_prompt() -> None:
    """Copy the picked set prompt into the (URL-bound) prompt and target boxes."""
    choice = st.session_state.get("_pick")
    if choice is not None:
        st.session_state["prompt"] = choice.prompt
        st.session_state["target"] = choice.answer
        if choice.memory:
            st.session_state["memory"] = choice.memory


def _prompt_folder(model: str, workshop: bool) -> str:
    """Where the offered prompt sets live: the model's default source, another, or a folder the user typed
    (not in a workshop, whose folder the teacher fixes); "" when none is usable, after saying why."""
    if workshop:
        return str(workshop_prompt_folder(model))
    sources = list(PROMPT_SOURCES)
    # Keyed per model, so a new model opens on its own default (the demo's sets for the demo, English otherwise).
    source = st.selectbox("Prompt sets", sources, index=sources.index(default_prompt_source(model)),
                          key=f"_source:{model}", help="the demo world's sets suit only the demo model")
    if source != OWN_SOURCE:
        return str(PROMPT_SOURCES[source])
    typed = st.text_input("Prompt folder", key="_prompt_dir", placeholder="a folder of JSONL prompt sets",
                          help="holding keywords.jsonl, facts.jsonl and/or two_hop.jsonl "
                               "(fields: docs/your-own-model-prompts.md)")
    if not typed.strip():
        return ""
    try:
        return str(check_prompt_folder(typed))
    except PromptSetError as err:
        show_error(err)
        return ""


def _prompt_picker(folder: str, workshop: bool) -> None:
    names = available_sets(Path(folder)) if folder else ()
    if not names:
        return
    name = st.selectbox("Prompt set", names, index=0 if workshop and names[0] == STARTERS else None, key="_set",
                        placeholder="pick a prompt set…")
    if name is None:
        return
    try:
        choices = _load_set(name, folder, _source(name, folder))
    except PromptSetError as err:
        show_error(err)
        return
    st.selectbox("Prompt from the set", choices, index=None, format_func=lambda c: c.label,
                 key="_pick", on_change=_pick_prompt, placeholder=f"{len(choices)} prompts…")


def render_sidebar() -> Selection:
    """Draw the sidebar and remember its Selection for the pages (see ``selection``)."""
    from ui.links import chars  # it imports this module

    workshop = workshop_mode()
    with st.sidebar:
        if workshop:
            st.info("Workshop mode: the demo model is pinned and prompts are short.")
            model = st.text_input("Model", value=DEMO_NAME, disabled=True)
        else:
            model = st.text_input("Model", value=DEMO_NAME, key="model", bind="query-params", max_chars=chars("model"),
                                  help='"demo" for the shipped model, or a local folder, or a Hugging Face name '
                                       "(fetched once: safetensors weights only)")
            fetch_in_sidebar(resolve_model(model), workshop)
        folder = _prompt_folder(resolve_model(model), workshop)
        _prompt_picker(folder, workshop)
        first = _default(folder) if folder else None
        from ui.prompt_box import count_tokens, prompt_limit  # it reads the model through this module

        limit = prompt_limit(resolve_model(model))
        prompt = st.text_area("Prompt", value=first.prompt if first else FALLBACK_PROMPT, key="prompt",
                              bind="query-params", max_chars=chars("prompt", limit[1] if limit else None), height=90,
                              help=f"at most {limit[0]:,} tokens, what the model reads" if limit else None)
        count_tokens(resolve_model(model), prompt, limit)
        target = st.text_input("Target token", value=first.answer if first else "", key="target", bind="query-params",
                               max_chars=chars("target"),
                               help="the next token whose probability and rank the pages follow, with its leading space "
                                    "(e.g. ' football'); empty = the model's top guess")
        st.caption(f"Runs on {device_label()}")
    sel = Selection(model=resolve_model(model), prompt=prompt,
                    target=target if target.strip() else None, workshop=workshop, prompts=folder)
    st.session_state[SELECTION_KEY] = sel
    return sel


def selection() -> Selection:
    """The Selection the sidebar drew in this run."""
    return st.session_state[SELECTION_KEY]


def open_page(title: str, intro: str, needs_prompt: bool = True) -> tuple[Engine, Selection]:
    """Title the page, load the sidebar's model and check its prompt; on a user error show it and stop the page."""
    st.title(title)
    st.caption(intro)
    sel = selection()
    try:
        engine = load_engine(sel.model)
        if needs_prompt:
            if sel.workshop and len(sel.prompt) > max_prompt_chars():
                raise PromptTooLongError(f"this workshop takes prompts of at most {max_prompt_chars()} characters; "
                                         f"yours has {len(sel.prompt)}: shorten it")
            engine.encode(sel.prompt)
    except LensLabError as err:
        show_error(err)
        st.stop()
    target = single_target(engine, sel.target, sel.prompt if needs_prompt else None)
    if target != sel.target:
        sel = replace(sel, target=target)
        st.session_state[SELECTION_KEY] = sel
    return engine, sel


def token_list(engine: Engine, ids: list[int], at_most: int = 6, head: list[int] | None = None) -> str:
    """``' St', 'ug', 'ax'``: the pieces of a multi-token text, as the model reads them (after ``head``)."""
    more = ", …" if len(ids) > at_most else ""
    return ", ".join(map(repr, piece_texts(engine.tokenizer, ids[:at_most], head))) + more


def single_target(engine: Engine, text: str | None, prompt: str | None = None) -> str | None:
    """``text`` when it is one token after ``prompt``; a multi-token target is refused with a notice naming its
    tokens (the pages then follow the model's top guess), never cut to its first token."""
    if not text:
        return None
    try:
        if prompt:
            head = engine.encode(prompt)
            ids, _ = answer_ids(engine.tokenizer, head, prompt, text, "target token")
        else:
            head, ids = None, engine.token_ids(text, "target token")
    except LensLabError:
        return text  # the page that reads the target shows this error itself
    if len(ids) <= 1 or not piece_texts(engine.tokenizer, ids[:1], head)[0].strip():
        return text  # one token; or a bare word-start marker first, whose own error (with the fix) the page shows
    st.warning(md_escape(f"The target {text[:60]!r} is {len(ids)} tokens ({token_list(engine, ids, head=head)}); the "
                         "pages follow one next token, so it is not used: type a single token (the list above shows "
                         "how this model splits it). Following the model's top guess instead."),
               icon=":material/call_split:")
    return None


def target_id(engine: Engine, text: str | None, prompt: str | None = None) -> int | None:
    """The id of the one-token target ``text`` as the model would predict it after ``prompt``; None for no target."""
    if not text:
        return None
    return attempt(engine.token_id, text, "target token", prompt=prompt)


def png_available() -> bool:
    """Server-side PNG export needs kaleido; without it the chart's own camera button still saves a PNG."""
    try:
        return bool(pio.kaleido.kaleido_available())
    except AttributeError:
        return False


def chart_config(name: str) -> dict:
    """Plotly config for st.plotly_chart: the toolbar's camera button saves ``name``.png in the browser."""
    return {"toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}, "displaylogo": False}


@st.cache_resource(show_spinner=False)
def _figure_store() -> tuple[threading.Lock, LRU[go.Figure]]:
    return threading.Lock(), LRU(FIGURES_KEPT)


def shared_figure(key: tuple, build: Callable[[], go.Figure]) -> go.Figure:
    """The figure for ``key`` (everything it is drawn from, hashable), built once and then shared read-only
    by every session; past ``FIGURES_KEPT`` the least recently used goes. A live panel's move that lands
    on a value seen before (by anyone in the room) builds no figure: Plotly's validating constructors
    cost more server time per move than the cached run they draw."""
    lock, store = _figure_store()
    with lock:
        fig = store.get(key)
    if fig is None:
        fig = build()
        with lock:
            store.put(key, fig)
    return fig


def show_figure(fig: go.Figure, name: str, caption: str, key: str,
                table: pd.DataFrame | Callable[[], pd.DataFrame] | None = None, selectable: bool = False) -> Any:
    """Draw ``fig`` and its one-line caption, then one row of downloads: the figure as HTML
    (and PNG where kaleido is installed) and ``table`` as CSV. Files are built only when clicked
    (``table`` may be a function that builds it, so a live panel builds no table per move).

    ``selectable``: clicking a point reruns the page; returns the chart's selection event (else None).
    """
    event = st.plotly_chart(fig, key=key, config=chart_config(name), on_select="rerun" if selectable else "ignore",
                            selection_mode="points")
    st.caption(caption)
    buttons = [("Figure (HTML)", lambda: fig.to_html(include_plotlyjs=True, full_html=True), "html", "text/html")]
    if png_available():
        buttons.append(("Figure (PNG)", lambda: fig.to_image(format="png", scale=2), "png", "image/png"))
    if table is not None:
        buttons.append(("Table (CSV)", lambda: (table() if callable(table) else table).to_csv(index=False), "csv",
                        "text/csv"))
    row = st.container(horizontal=True)
    for label, data, ext, mime in buttons:
        row.download_button(label, data=data, file_name=f"{name}.{ext}", mime=mime, key=f"{key}_{ext}",
                            on_click="ignore", icon=":material/download:")
    return event if selectable else None


def cli_snippet(command: str) -> None:
    """A collapsed "reproduce from the command line" box holding ``command``."""
    with st.expander("Reproduce from the command line", icon=":material/terminal:"):
        st.code(command, language="bash")
