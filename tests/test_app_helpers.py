"""Shared pieces of the app tests: which model the app runs on, and how to open a page.

The app's tests run on the shipped demo model when it is built (assets/demo),
and on the tiny GPT-2 fixture otherwise (through LENSLAB_MODEL).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np

import pytest
from streamlit.testing.v1 import AppTest

from promptsets.paths import DEMO_DIR

APP = Path(__file__).resolve().parent.parent / "app.py"
TIMEOUT = 180


def load_browser_bench():
    """bench/app_latency.py (the browser helpers the real-browser tests share) by its path: bench/ also holds
    engine.py, lens.py, ..., which must not shadow the packages of the same names on sys.path."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "bench" / "app_latency.py"
    spec = importlib.util.spec_from_file_location("app_latency", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo_built() -> bool:
    """True when the demo model's weights are in assets/demo."""
    return (DEMO_DIR / "config.json").is_file() and (DEMO_DIR / "model.safetensors").is_file()


@pytest.fixture
def app_model(monkeypatch, request) -> str:
    """The model "demo" stands for in these tests; workshop mode off unless a test turns it on."""
    monkeypatch.delenv("LENSLAB_WORKSHOP", raising=False)
    if demo_built():
        monkeypatch.delenv("LENSLAB_MODEL", raising=False)
        return str(DEMO_DIR)
    path = str(request.getfixturevalue("tiny_model_dir"))
    monkeypatch.setenv("LENSLAB_MODEL", path)
    return path


def open_app(page: str | None = None, query: dict | None = None) -> AppTest:
    """Run the app once, then (optionally) switch to ``page`` with URL ``query`` and run it."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(page)
        if query:
            at.query_params.update(query)
        at.run()
    return at


def open_typed(page: str, prompt: str, target: str, query: dict | None = None) -> AppTest:
    """The app with ``prompt`` and ``target`` typed in the sidebar, then ``page`` with URL ``query``, run."""
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value(prompt).run()
    at.sidebar.text_input(key="target").set_value(target).run()
    at.switch_page(page)
    if query:
        at.query_params.update(query)
    return at.run()


def open_link(page: str, query: dict) -> AppTest:
    """Open ``page`` as a fresh browser session would open a shared link carrying ``query``."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.switch_page(page)
    at.query_params.update(query)
    at.run()
    return at


def warnings_text(at: AppTest) -> str:
    """Every st.warning and st.info on the page, main area and sidebar, as one string, as it reads
    on screen (Markdown's backslash escapes removed)."""
    text = " | ".join(w.value for w in [*at.warning, *at.info, *at.sidebar.warning, *at.sidebar.info])
    return re.sub(r"\\(.)", r"\1", text)


def charts(at: AppTest) -> list[dict]:
    """The Plotly figures on the page, as their JSON specs."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def array(values) -> np.ndarray:
    """A Plotly data array from a figure's JSON (plain list, or Plotly's base64 "bdata" form)."""
    if isinstance(values, dict) and "bdata" in values:
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return flat.reshape([int(n) for n in str(values["shape"]).split(",")]) if "shape" in values else flat
    return np.asarray(values)


def metric_values(at: AppTest) -> dict[str, str]:
    """label -> shown value of every st.metric."""
    return {m.label: m.value for m in at.metric}


def assert_clean(at: AppTest) -> None:
    """No uncaught exception and no st.error on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def assert_user_error(at: AppTest, *words: str) -> None:
    """An st.error naming ``words`` is shown, and no traceback."""
    assert not at.exception, [e.value for e in at.exception]
    # Messages reach Streamlit Markdown-escaped; compare them as the user reads them.
    messages = re.sub(r"\\(.)", r"\1", " | ".join(e.value for e in at.error))
    assert at.error, "expected an st.error"
    for word in words:
        assert word.lower() in messages.lower(), messages


def flat_elements(at: AppTest) -> list:
    """Every element of the main area in page order (blocks opened)."""
    out: list = []

    def walk(node) -> None:
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for key in sorted(children):
                walk(children[key])
        else:
            out.append(node)

    walk(at.main)
    return out


def assert_every_chart_captioned(at: AppTest) -> None:
    """Each Plotly chart is followed directly by its one-line st.caption."""
    elements = flat_elements(at)
    for i, el in enumerate(elements):
        if getattr(el, "type", None) == "plotly_chart":
            nxt = elements[i + 1] if i + 1 < len(elements) else None
            assert nxt is not None and nxt.type == "caption", f"chart {i} has no caption under it"
            assert len(nxt.value.splitlines()) == 1 and nxt.value.strip()
