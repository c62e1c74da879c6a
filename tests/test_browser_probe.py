"""The Probes page in a real browser (headless Debian Chromium via Playwright against `streamlit run app.py`):
opened by its link, it draws accuracy per layer; the attribution button fills the table of top sentences."""

from __future__ import annotations

import pytest

from test_app_helpers import load_browser_bench


bench = load_browser_bench()


@pytest.fixture
def server_env(tiny_world_dir) -> dict[str, str]:
    """The app on the tiny world: the browser is what is tested here (the demo's page and numbers are tested
    with AppTest in test_app_probe.py), and the tiny corpus keeps the attribution to seconds."""
    return {"LENSLAB_MODEL": str(tiny_world_dir), "LENSLAB_WORKSHOP": ""}


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
