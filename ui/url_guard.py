"""Say when the app ignores part of a link, instead of dropping it without a word.

``guard_query_params`` runs before any widget: it drops the parameters that
``ui.url_rules`` refuses (so no widget ever parses them) and remembers why; the page
shows the reasons at its top. ``note_unavailable`` does the same for choices that
depend on the model or the session (a cluster that exists only in another session).
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.state.session_state_proxy import get_session_state

from ui.config import workshop_mode
from ui.text import md_escape
from ui.url_rules import check_params

NOTES_KEY = "_lenslab_url_notes"


def _drop(key: str) -> None:
    """Remove ``key`` from the link and from the values widgets are seeded with.

    Streamlit seeds bound widgets from the link as first opened, which st.query_params
    cannot edit; this is the one place that reaches into that (streamlit is pinned).
    """
    with get_session_state().query_params() as qp:
        qp.remove_param(key)
        qp._initial_query_params.pop(key, None)  # noqa: SLF001


def guard_query_params() -> None:
    """Drop every URL parameter that cannot be used and keep a note of why for ``show_url_notes``."""
    params = st.query_params.to_dict()
    notes = st.session_state.setdefault(NOTES_KEY, [])
    for key, why in check_params(params, workshop=workshop_mode()).items():
        _drop(key)
        notes.append(f"{why}; it was ignored.")


def note_unavailable(key: str, options: list[str], what: str, hint: str) -> None:
    """If the link asks ``key`` for a value not among ``options``, say it is not available (before the widget)."""
    wanted = st.query_params.get(key)
    if wanted is not None and wanted not in options:
        _drop(key)
        st.warning(md_escape(f"The link asks for {what} {wanted[:60]!r}, which is not available here ({hint}); "
                             "choose one from the list."), icon=":material/link_off:")


def show_url_notes() -> None:
    """Show, once, what was ignored from the link (at the top of the page)."""
    notes = st.session_state.pop(NOTES_KEY, [])
    if notes:
        st.warning(md_escape("Part of the link was ignored: " + " ".join(notes)), icon=":material/link_off:")
