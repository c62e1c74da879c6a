"""The Unlearn page in a real browser (headless Debian Chromium, Playwright, `streamlit run app.py`): a shared
link opens on a memorized secret, Apply unlearns it for this session only, and the bars appear."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_app_helpers import load_browser_bench

bench = load_browser_bench()

BARS_JS = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const p = plots.find(el => el.data && el.data.length === 2 && el.data[1].name === 'unlearned');
  return p ? JSON.stringify(p.data.map(t => t.y)) : null;
}"""


@pytest.mark.timeout(300)
def test_apply_on_a_shared_link_draws_the_bars_and_leaves_another_session_alone(tmp_path):
    with bench.running_app({"LENSLAB_WORKSHOP": ""}) as url, bench.browser_page() as page:
        page.goto(f"{url}/unlearn?unlearn_secret=Cafin&unlearn_method=gradient&unlearn_budget=64")
        page.get_by_text("11/11").first.wait_for(timeout=120_000)
        page.get_by_role("button", name="Apply").click()
        page.wait_for_function(f"({BARS_JS})() !== null", timeout=120_000)
        page.screenshot(path=tmp_path / "unlearn.png", full_page=True)
        assert page.get_by_text("Memorized secrets").count() == 1
        other = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
        other.goto(f"{url}/unlearn?unlearn_secret=Cafin")
        other.get_by_text("11/11").first.wait_for(timeout=120_000)  # still memorized in a fresh session
        assert other.get_by_text("Memorized secrets").count() == 0
        for p in (page, other):
            assert p.locator("[data-testid='stException']").count() == 0
    assert (tmp_path / "unlearn.png").stat().st_size > 10_000
