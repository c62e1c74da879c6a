"""The Edit page under LENSLAB_DTYPE=bfloat16: every method applies and scores, with no exception shown."""

from __future__ import annotations

import pytest
import streamlit as st

from test_app_edit import FACT, bars, open_fact
from test_app_helpers import app_model, assert_clean, open_app  # noqa: F401


@pytest.fixture
def bf16_app(app_model, monkeypatch):
    """The app on a bfloat16 engine; the shared caches are emptied so no float32 engine or result is reused."""
    monkeypatch.setenv("LENSLAB_DEVICE", "cpu")
    monkeypatch.setenv("LENSLAB_DTYPE", "bfloat16")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield app_model
    st.cache_resource.clear()
    st.cache_data.clear()


def test_the_edit_page_runs_every_method_in_bfloat16(bf16_app):
    at = open_fact({"edit_new": " cycling"})
    assert_clean(at)
    assert any("Runs on cpu, bfloat16" in c.value for c in at.sidebar.caption)
    assert bars(at, "before")[0] < 0.05 and bars(at, "after the edit")[0] > 0.5
    for method in ("low_rank", "finetune", "interp"):
        at.selectbox(key="edit_method").set_value(method).run()
        assert_clean(at)
        assert bars(at, "after the edit")[0] > 0.3, method
    assert FACT["prompt"] in at.sidebar.text_area(key="prompt").value


@pytest.mark.parametrize("page", ["app_pages/lens.py", "app_pages/clusters.py", "app_pages/impair.py",
                                  "app_pages/memory.py", "app_pages/compare.py"])
def test_every_other_page_draws_its_charts_in_bfloat16(bf16_app, page):
    at = open_app(page)
    if page == "app_pages/memory.py":
        at.text_input(key="memory").set_value(" Krothux").run()  # the page waits for a memory text
    assert_clean(at)
    assert at.get("plotly_chart"), "the page drew no chart"
