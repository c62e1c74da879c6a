"""One real-browser test: headless Debian Chromium, driven by Playwright, against `streamlit run app.py`.

It opens the Impair page by its URL, moves the intensity slider with the mouse, sees the
chart change, and saves screenshots under pytest's tmp dir.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_app_helpers import demo_built, load_browser_bench


bench = load_browser_bench()
browser_page, chart_signature, move_slider = bench.browser_page, bench.chart_signature, bench.move_slider
open_impair, running_app = bench.open_impair, bench.running_app


@pytest.fixture(scope="module")
def server_env(request) -> dict[str, str]:
    """The app runs on the demo model when it is built, else on the tiny GPT-2 fixture."""
    if demo_built():
        return {"LENSLAB_WORKSHOP": ""}
    return {"LENSLAB_MODEL": str(request.getfixturevalue("tiny_model_dir")), "LENSLAB_WORKSHOP": ""}


@pytest.fixture(scope="module")
def app_url(server_env):
    """One server for the tests of this module that need no settings of their own (as a room shares one):
    each test opens its own browser sessions on it."""
    with running_app(server_env) as url:
        yield url


@pytest.mark.timeout(300)
def test_moving_the_intensity_slider_redraws_the_chart(app_url, tmp_path):
    url = app_url
    with browser_page() as page:
        before = open_impair(page, url)
        page.get_by_text("Target token").first.wait_for()  # the shared sidebar is there on a direct link
        page.screenshot(path=tmp_path / "impair-before.png", full_page=True)
        thumb = page.locator(".st-key-intensity_noise input[type='range']")
        assert thumb.get_attribute("aria-valuetext") == "2.00"

        move_slider(page, 0.9, before)
        after = chart_signature(page)
        page.screenshot(path=tmp_path / "impair-after.png", full_page=True)

        assert after != before
        assert float(thumb.get_attribute("aria-valuetext")) > 8.0
        assert page.locator("[data-testid='stException']").count() == 0
        assert "intensity_noise=" in page.url, "the slider's value must be in the link"
    for name in ("impair-before.png", "impair-after.png"):
        assert (tmp_path / name).stat().st_size > 10_000


@pytest.mark.timeout(300)
def test_a_workshop_room_gets_no_server_path(server_env, tmp_path):
    env = {**server_env, "LENSLAB_WORKSHOP": "1", "LENSLAB_LENSES": "", "LENSLAB_CLUSTERS": "", "LENSLAB_COMPARE": ""}
    with running_app(env) as url, browser_page() as page:
        page.goto(f"{url}/lens?lenses={tmp_path}")
        page.get_by_text("fixes the lens folder").first.wait_for(timeout=120_000)
        assert page.get_by_label("Lens folder").count() == 0
        assert page.get_by_text("Train lenses").count() == 0
        page.goto(f"{url}/clusters")
        page.get_by_text("Download cluster (JSON)").first.wait_for(timeout=120_000)
        assert page.get_by_label("Save to").count() == 0
        page.goto(f"{url}/compare?model_b={tmp_path}")
        page.get_by_text("fixes the second model").first.wait_for(timeout=120_000)
        assert page.get_by_label("Second model (B)").count() == 0
        assert page.locator("[data-testid='stException']").count() == 0


# The Edit page's bars after the edit, and the Impair page's clean bars, read from the Plotly graphs.
EDITED_JS = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g._fullData
      && g._fullData.some(t => t.name === 'after the edit'));
  return gd ? gd._fullData.find(t => t.name === 'after the edit').x[0] : null;
}"""
CLEAN_JS = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g._fullData && g._fullData[0]
      && g._fullData[0].name === 'clean');
  if (!gd) return null;
  const t = gd._fullData[0], y = Array.from(t.y), i = y.indexOf(Math.max(...y));
  return JSON.stringify([String(t.x[i]), y[i]]);
}"""


@pytest.mark.timeout(300)
def test_an_edit_in_one_session_never_shows_in_another(app_url, tmp_path):
    if not demo_built():
        pytest.fail("the Edit page's demo facts need the built demo; run `python -m world build`")
    url = app_url
    with browser_page() as page:
        page.goto(f"{url}/edit?prompt=Dadon+plays&target=+rugby&edit_new=+cycling")
        page.wait_for_function(f"({EDITED_JS})() !== null", timeout=120_000)
        page.screenshot(path=tmp_path / "edit.png", full_page=True)
        assert page.evaluate(EDITED_JS) >= 0.9  # p(' cycling') after the edit, in this session
        other = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})  # a second session
        other.goto(f"{url}/impair?prompt=Dadon+plays&target=+rugby&intensity_noise=0")
        other.wait_for_function(f"({CLEAN_JS})() !== null", timeout=120_000)
        top, p = json.loads(other.evaluate(CLEAN_JS))
        assert "rugby" in top and p > 0.9
        assert page.locator("[data-testid='stException']").count() == 0
        assert other.locator("[data-testid='stException']").count() == 0


def _cluster_caption(page) -> str:
    """The caption under the Cluster box: "<name>: N units ..." (the cluster the run uses)."""
    caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text=" units in layers").first
    caption.wait_for(timeout=120_000)
    return caption.inner_text()


@pytest.mark.timeout(300)
def test_after_a_prompt_change_the_link_opens_on_the_cluster_shown(app_url):
    if not demo_built():
        pytest.fail("the topic clusters need the built demo; run `python -m world build`")
    url = app_url
    with browser_page() as page:
        page.goto(f"{url}/impair?prompt=Drinex+plays&target=+cycling")
        assert _cluster_caption(page).startswith("athlete:")
        box = page.get_by_label("Prompt", exact=True)
        box.fill("Brikri paints")
        box.press("Control+Enter")
        page.get_by_text("artist:").first.wait_for(timeout=120_000)
        page.wait_for_function("() => location.search.includes('Brikri')", timeout=60_000)
        shown, link = _cluster_caption(page), page.url
        assert shown.startswith("artist:"), shown
        fresh = page.context.browser.new_context().new_page()  # a new browser session on the link
        fresh.goto(link)
        assert _cluster_caption(fresh) == shown, f"{link} opens on another cluster"
