"""The start-up warm-up fills the caches the first visitor's pages read, and says so when it cannot."""

from __future__ import annotations

import logging

from test_app_helpers import app_model, charts, open_app  # noqa: F401
from ui.shell import load_engine
from ui.warmup import warm_up


def test_warm_up_computes_the_default_views_without_an_error(app_model, caplog):
    load_engine.clear()
    with caplog.at_level(logging.INFO, logger="ui.warmup"):
        warm_up()
    assert "warm-up done" in caplog.text
    assert "stopped early" not in caplog.text, caplog.text
    assert load_engine(app_model) is load_engine(app_model), "the warmed engine is the shared one"


def test_after_warm_up_the_first_visitor_gets_the_warmed_engine(app_model):
    warm_up()
    engine = load_engine(app_model)
    at = open_app("app_pages/impair.py")
    assert charts(at)
    assert load_engine(app_model) is engine, "the page loaded a second copy of the model instead of the warmed one"


def test_the_server_says_ready_only_once_a_page_answers(app_model):
    import subprocess
    import sys
    import urllib.request

    from test_app_helpers import APP

    from bench.app_latency import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--logger.hideWelcomeMessage", "true"],
                            cwd=APP.parent, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "LensLab is ready" in line:
                break
        assert "You can now view" not in "".join(lines), "no ready line before the warm-up ends"
        assert "warm-up" in lines[-1] and f":{port}" in lines[-1], lines[-1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
            assert r.status == 200, "the server answers when it says it is ready"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
