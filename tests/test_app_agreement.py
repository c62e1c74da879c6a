"""One source of truth per view: after a change, the page's URL, what it shows and what it
computes agree, so a fresh session opened on that URL shows the same numbers.

AppTest runs no browser, so the URL is read the way the browser writes it: every widget bound
to a query parameter puts its value there unless the value is the widget's default.
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from test_app_helpers import app_model, assert_clean, metric_values, open_app, open_link  # noqa: F401

ARTIST = ("Brikri paints", " baroque")  # a held-out artist prompt: its topic's cluster differs from athlete's


def _widgets(node):
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for key in sorted(children):
            yield from _widgets(children[key])
    elif getattr(getattr(node, "proto", None), "query_param_key", ""):
        yield node


def _default(widget) -> object:
    """What the widget shows when its URL parameter is absent."""
    proto = widget.proto
    kind = type(widget).__name__
    if kind in ("Selectbox", "Radio"):
        return proto.options[proto.default] if proto.HasField("default") else None
    if kind == "Slider":
        values = list(proto.default)
        return values[0] if len(values) == 1 else tuple(values)
    return proto.default


def browser_url(at: AppTest) -> dict[str, str]:
    """The query parameters a browser shows after this run (bound widgets off their default)."""
    url = {}
    for root in (at.main, at.sidebar):
        for widget in _widgets(root):
            value = widget.value
            if isinstance(value, (list, tuple)) or value == _default(widget):
                continue
            url[widget.proto.query_param_key] = f"{value:g}" if isinstance(value, float) else str(value)
    return url


def defaults(at: AppTest) -> dict[str, tuple]:
    """URL key -> (the widget's options, its default) for every bound widget."""
    out = {}
    for root in (at.main, at.sidebar):
        for widget in _widgets(root):
            out[widget.proto.query_param_key] = (tuple(getattr(widget.proto, "options", ())), _default(widget))
    return out


def captions(at: AppTest) -> list[str]:
    """The page's captions as they read on screen (Markdown escapes undone)."""
    return [re.sub(r"\\(.)", r"\1", c.value) for c in at.caption]


def change_prompt(at: AppTest, prompt: str, target: str) -> None:
    at.sidebar.text_area(key="prompt").set_value(prompt).run()
    at.sidebar.text_input(key="target").set_value(target).run()


@pytest.mark.parametrize("page, query", [
    ("app_pages/impair.py", {"intensity_noise": "3"}),
    ("app_pages/edit.py", {"prompt": "Dadon plays", "target": ""}),
    ("app_pages/memory.py", {"memory": " Loteix", "mem_layer": "1"}),
    ("app_pages/compare.py", {"cka_pool": "3"}),
])
def test_after_a_prompt_change_a_fresh_session_on_the_url_shows_the_same_numbers(app_model, page, query):
    at = open_app(page, query)
    assert_clean(at)
    before = defaults(at)
    if page == "app_pages/edit.py":
        change_prompt(at, "Brikri paints", "")
    else:
        change_prompt(at, *ARTIST)
    assert_clean(at)
    # The browser leaves a default out of the URL, so a default that moved with the prompt
    # would make the link name another value than the screen.
    after = defaults(at)
    for key in before.keys() & after.keys() - {"prompt", "target"}:
        if before[key][0] == after[key][0]:
            assert before[key][1] == after[key][1], f"the default of {key} changed with the prompt"
    url = browser_url(at)
    assert url.get("prompt") == "Brikri paints", url
    fresh = open_link(page, url)
    assert_clean(fresh)
    assert metric_values(fresh) == metric_values(at), url
    assert captions(fresh) == captions(at), url


def test_the_cluster_in_use_follows_the_prompts_topic_until_one_is_chosen(app_model):
    at = open_app("app_pages/impair.py")
    assert any(c.startswith("athlete:") for c in captions(at))
    change_prompt(at, *ARTIST)
    assert any(c.startswith("artist:") for c in captions(at)), "the shown cluster is the one the run uses"
    at.selectbox(key="cluster").set_value("company").run()
    assert browser_url(at)["cluster"] == "company"
    change_prompt(at, "Drinex plays", " cycling")
    assert any(c.startswith("company:") for c in captions(at)), "a cluster the user chose stays chosen"
