"""No user text reaches HTML or Markdown unescaped: markup payloads through every page."""

from __future__ import annotations

import re

import pytest

from streamlit.testing.v1 import AppTest

from test_app_helpers import app_model, charts, open_app  # noqa: F401

PAYLOAD = ' <a href="https://evil.example">click</a> [here](https://evil.example) **loud** <img src=x> $x^2$ :red[hot]'
PAGES = ["app_pages/home.py", "app_pages/lens.py", "app_pages/clusters.py", "app_pages/impair.py",
         "app_pages/memory.py", "app_pages/compare.py", "app_pages/edit.py"]
# Plotly renders these tags in any label; our own templates use only <br> and <extra>.
PLOTLY_TAG = re.compile(r"<\s*(a|img|b|i|span|sub|sup|em|script)\b", re.I)
# Markdown that would render: an unescaped link, bold, math or colour directive.
MARKDOWN = [re.compile(p) for p in (r"(?<!\\)\[here(?<!\\)\]\(", r"(?<!\\)\*\*loud", r"(?<!\\)\$x\^2",
                                    r"(?<!\\):red\[", r"(?<!\\)<a href")]


def _strings(node, key: str = ""):
    """Every string in a figure's JSON, except our own hover/text templates."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)
    elif isinstance(node, str) and key not in ("hovertemplate", "texttemplate"):
        yield node


def _open(page: str, prompt: str, target: str, query: dict) -> AppTest:
    """The app with ``prompt`` and ``target`` typed in the sidebar, on ``page`` with URL ``query``."""
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value(prompt).run()
    at.sidebar.text_input(key="target").set_value(target).run()
    at.query_params.update(query)
    at.switch_page(page).run()
    return at


def _markdown_values(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success"):
        out += [el.value for el in getattr(at, kind)]
    return out


@pytest.mark.parametrize("page", PAGES)
def test_markup_in_the_prompt_target_and_memory_is_shown_as_text(app_model, page):
    query = {"memory": PAYLOAD, "cluster": "custom units…", "cluster_units": "0:0-3",
             "lenses": "no-such-folder" + PAYLOAD, "edit_subject": "Pothasix", "edit_new_text": PAYLOAD}
    at = _open(page, "The founder of Pothasix" + PAYLOAD, PAYLOAD, query)
    assert at.sidebar.text_area(key="prompt").value.endswith(PAYLOAD)
    assert not at.exception, [e.value for e in at.exception]
    for fig in charts(at):
        for text in _strings(fig):
            assert not PLOTLY_TAG.search(text), text
    for value in _markdown_values(at):
        for pattern in MARKDOWN:
            assert not pattern.search(value), value


def test_a_chart_title_shows_the_prompt_as_text(app_model):
    at = _open("app_pages/memory.py", "The founder of Pothasix" + PAYLOAD, " Stugax", {"memory": " Loteix"})
    titles = [fig["layout"]["title"]["text"] for fig in charts(at)]
    assert any("&lt;a href=" in t for t in titles), titles


def _assert_no_markup(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    for fig in charts(at):
        for text in _strings(fig):
            assert not PLOTLY_TAG.search(text), text
    for value in _markdown_values(at):
        for pattern in MARKDOWN:
            assert not pattern.search(value), value


def test_an_uploaded_cluster_name_and_detail_are_shown_as_text(app_model):
    import json

    name = '<a href="https://evil.example">click</a> [here](https://evil.example) **loud**'
    body = {"format": "lenslab-cluster", "version": 1, "name": name, "neurons": [[0, 1], [1, 2]], "topic": name,
            "detail": name}
    at = open_app("app_pages/clusters.py")
    at.file_uploader(key="cluster_upload").upload("c.json", json.dumps(body).encode(), "application/json").run()
    assert at.success
    at.selectbox(key="cluster").set_value(name).run()
    _assert_no_markup(at)
    assert any("&lt;a href" in fig["layout"]["title"]["text"] for fig in charts(at))
    at.switch_page("app_pages/impair.py").run()
    _assert_no_markup(at)
    assert charts(at)


URLS = " see https://evil.example/x, www.evil.example or me@evil.example"
# What Streamlit's Markdown would turn into a link once its backslash escapes are undone:
# link syntax, a bare URL, a www. name or an e-mail address.
LINKABLE = re.compile(r"\]\(|[a-z][a-z0-9+.-]*://|(?<![^\W_])www\.|[\w.+-]@[\w-]+\.\w", re.I)


def _rendered(at) -> list[str]:
    """Every Markdown-rendered string on the page (main area, sidebar, metric labels), escapes undone."""
    values = _markdown_values(at) + [m.label for m in at.metric]
    for kind in ("markdown", "caption", "error", "warning", "info", "success"):
        values += [el.value for el in getattr(at.sidebar, kind)]
    return [re.sub(r"\\(.)", r"\1", v) for v in values]


def _linkable_texts(at) -> list[str]:
    """The rendered strings that Streamlit's Markdown would turn into a link."""
    return [v for v in _rendered(at) if LINKABLE.search(v)]


@pytest.mark.parametrize("page", PAGES)
def test_urls_in_echoed_user_text_stay_inert(app_model, page):
    query = {"memory": URLS, "cluster": "https://evil.example/cluster", "lenses": "no-such-folder" + URLS,
             "edit_subject": "Pothasix", "edit_new_text": URLS}
    at = _open(page, "The founder of Pothasix" + URLS, URLS, query)
    assert not at.exception, [e.value for e in at.exception]
    if page != "app_pages/home.py":
        assert any("evil" in v for v in _rendered(at)), "the page echoes the hostile text somewhere"
    assert not _linkable_texts(at)


def test_an_uploaded_cluster_name_with_a_url_stays_inert(app_model):
    import json

    name = "athlete https://evil.example me@evil.example"
    body = {"format": "lenslab-cluster", "version": 1, "name": name, "neurons": [[0, 1], [1, 2]], "detail": name}
    at = open_app("app_pages/clusters.py")
    at.file_uploader(key="cluster_upload").upload("c.json", json.dumps(body).encode(), "application/json").run()
    assert at.success
    at.selectbox(key="cluster").set_value(name).run()
    assert not at.exception
    assert not _linkable_texts(at)
