"""What every page does first: a title, the shared engine, and a checked prompt."""

from __future__ import annotations

import streamlit as st

from engine import Engine
from engine.errors import EngineError, PromptTooLongError
from engine.tokens import piece_texts
from ui.config import max_prompt_chars
from ui.engine_cache import load_engine
from ui.errors import attempt, show_error
from ui.sidebar import Selection, selection
from ui.text import md_escape


def open_page(title: str, intro: str, needs_prompt: bool = True) -> tuple[Engine, Selection]:
    """Title the page, load the sidebar's model and check its prompt; on a user error show it and stop the page."""
    st.title(title)
    st.caption(intro)
    sel = selection()
    try:
        engine = load_engine(sel.model)
        if needs_prompt:
            if len(sel.prompt) > max_prompt_chars():
                raise PromptTooLongError(f"this app takes prompts of at most {max_prompt_chars()} characters; "
                                           f"yours has {len(sel.prompt)}: shorten it")
            engine.encode(sel.prompt)
    except EngineError as err:
        show_error(err)
        st.stop()
    note_target(engine, sel.target)
    return engine, sel


def note_target(engine: Engine, text: str | None) -> None:
    """Say so when the target is several tokens: the pages follow only its first."""
    if not text:
        return
    try:
        ids = engine.token_ids(text, "target token")
    except EngineError:
        return  # the page that reads the target shows this error itself
    if len(ids) > 1:
        pieces = piece_texts(engine.tokenizer, ids[:6])
        more = ", …" if len(ids) > 6 else ""
        st.info(md_escape(f"The target {text[:60]!r} is {len(ids)} tokens ({', '.join(map(repr, pieces))}{more}); "
                          f"the pages follow its first token, {pieces[0]!r}."), icon=":material/info:")


def target_id(engine: Engine, text: str | None) -> int | None:
    """The first token of ``text`` as the model would predict it (as the Lens pages read it); None for no target."""
    if not text:
        return None
    return attempt(engine.token_id, text, "target token", first=True)
