"""User text shown through Streamlit's Markdown (errors, captions, notes) is escaped, never rendered.

Streamlit renders Markdown in st.error, st.caption, st.success and st.markdown: a prompt, file
name or cluster name holding ``[link](url)``, ``**bold**``, ``$math$`` or ``:red[...]`` would
otherwise turn into a link or styling that a shared URL could plant.
"""

from __future__ import annotations

import re

# Emphasis, code, links and images, HTML and autolinks (``<``, ``https:``, ``www.``, ``a@b``), math,
# strikethrough, tables, entities, headings and Streamlit's ``:icon:`` / ``:red[...]`` directives.
_MARKDOWN = re.compile(r"([\\`*_\[\]()<>$:~|&@.#])")


def md_escape(text: object) -> str:
    """``text`` with every Markdown-significant character backslash-escaped, so it shows as typed."""
    return _MARKDOWN.sub(r"\\\1", str(text))
