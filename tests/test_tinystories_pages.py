"""End to end on a real trained Llama (TinyStories-656K): every page opens on it, with the sidebar's prompt sets
from a folder of the user's own JSONL files, and runs what it offers without an error."""

from __future__ import annotations

import os

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from test_app_helpers import APP, TIMEOUT, assert_clean, charts
from tinystories import PROMPTS, STORIES, TINYSTORIES, needs_tinystories

pytestmark = needs_tinystories


@pytest.fixture(params=["float32", "bfloat16"])
def tinystories_app(request, monkeypatch):
    """The app with "demo" standing for TinyStories (as a teacher's LENSLAB_MODEL would), in float32 and in
    bfloat16 on the CPU (the stand-in for a GPU); the shared caches are emptied so no engine of the other
    precision is reused."""
    for name in ("LENSLAB_WORKSHOP", "LENSLAB_LENSES", "LENSLAB_CLUSTERS", "LENSLAB_COMPARE", "LENSLAB_PROMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LENSLAB_MODEL", str(TINYSTORIES))
    monkeypatch.setenv("LENSLAB_DEVICE", "cpu")
    monkeypatch.setenv("LENSLAB_DTYPE", request.param)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield request.param
    st.cache_resource.clear()
    st.cache_data.clear()


def open_page(page: str, query: dict, prompt: str = "Lily hugged her ", target: str = "mom") -> AppTest:
    """The app on ``page`` with the TinyStories prompt folder, ``prompt`` and ``target`` typed in the sidebar
    and the page's own settings ``query`` in the URL."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    next(s for s in at.sidebar.selectbox if s.key.startswith("_source:")).set_value("your own folder").run()
    at.sidebar.text_input(key="_prompt_dir").set_value(str(PROMPTS)).run()
    at.sidebar.text_area(key="prompt").set_value(prompt)
    at.sidebar.text_input(key="target").set_value(target).run()
    at.switch_page(page)
    at.query_params.update(query)
    at.run()
    assert_clean(at)
    assert any(f"Runs on cpu, {os.environ['LENSLAB_DTYPE']}" in c.value for c in at.sidebar.caption)
    return at


def titles(at) -> list[str]:
    return [f["layout"].get("title", {}).get("text", "") for f in charts(at)]


def test_start_page_and_the_prompt_sets(tinystories_app):
    at = open_page("app_pages/home.py", {})
    assert at.sidebar.selectbox(key="_set").options == ["starter prompts", "keywords", "facts", "two-hop"]
    at.sidebar.selectbox(key="_set").set_value("keywords").run()
    at.sidebar.selectbox(key="_pick").select_index(0).run()
    assert at.sidebar.text_area(key="prompt").value == "Lily had a pet "
    assert at.sidebar.text_input(key="target").value == "dog"


def test_lens_page_trains_lenses_and_shows_every_head(tinystories_app, tmp_path):
    at = open_page("app_pages/lens.py", {"lenses": str(tmp_path / "lenses")})
    assert "Logit lens" in titles(at)[0]
    at.number_input(key="train_steps").set_value(30)
    at.text_input(key="train_data").set_value(str(STORIES))
    at.multiselect(key="train_layers").set_value([1])
    at.button(key="train_go").click().run()  # one rerun with every setting, as a user's last click sends them
    assert_clean(at)
    assert len(charts(at)) == 4, "logit lens, head grid, head top-k and attention pattern"
    assert at.multiselect(key="train_layers").options == ["0"]


def test_clusters_page_finds_clusters_on_the_users_prompts(tinystories_app):
    at = open_page("app_pages/clusters.py", {}, "Lily had a pet ", "dog")
    at.number_input(key="find_percent").set_value(5.0).run()
    at.button(key="find_go").click().run()
    assert_clean(at)
    assert at.success and charts(at)


def test_impair_page_draws_the_next_token_chart(tinystories_app):
    at = open_page("app_pages/impair.py", {})
    assert charts(at)
    assert at.sidebar.text_area(key="prompt").value == "Lily hugged her "
    assert any("mom" in m.label for m in at.metric), [m.label for m in at.metric]


def test_memory_page_injects_the_bridge(tinystories_app):
    at = open_page("app_pages/memory.py", {"memory": "meow"}, "Lily heard a meow. It was a ", "cat")
    assert charts(at)


def test_edit_page_rewrites_a_typed_fact(tinystories_app):
    at = open_page("app_pages/edit.py", {"edit_subject": "Lily", "edit_new_text": "cat", "edit_method": "rank_one"},
                   "Lily had a pet ", "dog")
    assert charts(at)


def test_compare_page_draws_cka_per_layer(tinystories_app):
    at = open_page("app_pages/compare.py", {})
    assert charts(at)
