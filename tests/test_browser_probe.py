"""The Probes page in a real browser (headless Debian Chromium via Playwright against `streamlit run app.py`):
opened by its link, it draws accuracy per layer; the attribution button fills the table of top sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_app_helpers import demo_built, load_browser_bench


bench = load_browser_bench()


@pytest.fixture
def server_env(request) -> dict[str, str]:
    """The app on the demo when it is built with concept prompts, else on the tiny world."""
    if demo_built() and (Path(__file__).resolve().parent.parent / "assets/demo/prompts/concepts.jsonl").is_file():
        return {"LENSLAB_WORKSHOP": ""}
    return {"LENSLAB_MODEL": str(request.getfixturevalue("tiny_world_dir")), "LENSLAB_WORKSHOP": ""}


@pytest.mark.timeout(400)
def test_the_probes_page_draws_and_attributes(server_env, tmp_path):
    query = "probe_concept=role&probe_targets=1&probe_others=20&probe_k=3"
    with bench.running_app(server_env) as url, bench.browser_page() as page:
        page.goto(f"{url}/probe?{query}")
        page.get_by_text("Held-out accuracy of a role probe").first.wait_for(timeout=180_000)
        assert page.locator("[data-testid='stException']").count() == 0
        page.get_by_role("button", name="Attribute to training sentences").click()
        page.get_by_text("Attribution (CSV)").first.wait_for(timeout=240_000)
        page.screenshot(path=tmp_path / "probe.png", full_page=True)
        assert page.get_by_text("Held-out subject").count() >= 1
        assert page.locator("[data-testid='stException']").count() == 0
        assert "probe_targets=1" in page.url  # the settings stay in the link (role, the default, is left out)
    assert (tmp_path / "probe.png").stat().st_size > 10_000
