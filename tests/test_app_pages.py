"""AppTest of the app as a whole: every page renders on the model, charts are captioned, the sidebar is shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_app_helpers import (APP, app_model, assert_clean, assert_every_chart_captioned,  # noqa: F401
                              assert_user_error, charts, open_app, open_link)

PAGES = ["app_pages/home.py", "app_pages/lens.py", "app_pages/clusters.py", "app_pages/impair.py",
         "app_pages/memory.py", "app_pages/edit.py", "app_pages/patch.py", "app_pages/probe.py", "app_pages/compare.py",
         "app_pages/unlearn.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_error(app_model, page):
    at = open_app(page)
    assert_clean(at)
    assert at.title, "the page has no title"
    assert_every_chart_captioned(at)


def test_every_page_file_is_in_the_navigation():
    text = APP.read_text(encoding="utf-8")
    files = sorted(p.name for p in (APP.parent / "app_pages").glob("*.py"))
    assert files == sorted(Path(p).name for p in PAGES)
    for page in PAGES:
        assert f'"{page}"' in text


def test_no_pages_folder_beside_the_app():
    # Streamlit treats a pages/ folder beside the entry script as the old multipage mode and
    # then runs a page opened by URL without app.py, so without the sidebar.
    assert not (APP.parent / "pages").exists()


def test_sidebar_prompt_and_target_carry_across_pages(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value("Shibeith plays").run()
    at.sidebar.text_input(key="target").set_value(" boxing").run()
    at.switch_page("app_pages/impair.py").run()
    assert_clean(at)
    assert at.sidebar.text_area(key="prompt").value == "Shibeith plays"
    assert any("boxing" in label for label in (m.label for m in at.metric))


def test_picking_a_set_prompt_fills_prompt_and_target(app_model):
    at = open_app()
    names = at.sidebar.selectbox(key="_set").options
    if "facts" not in names:
        pytest.fail("the demo prompt sets are not built; run `python -m world build`")
    at.sidebar.selectbox(key="_set").set_value("facts").run()
    choice = at.sidebar.selectbox(key="_pick")
    first = choice.options[0]
    choice.select_index(0).run()
    prompt, target = at.sidebar.text_area(key="prompt").value, at.sidebar.text_input(key="target").value
    assert prompt and prompt in first
    assert target and target.strip() in first


def test_workshop_mode_pins_the_model_and_caps_the_prompt(app_model, monkeypatch):
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    at = open_app()
    assert_clean(at)
    assert at.sidebar.text_input[0].disabled, "the model box must be pinned in workshop mode"
    assert at.sidebar.selectbox(key="_set").value == "starter prompts"
    at.sidebar.text_area(key="prompt").set_value("word " * 100).run()
    assert len(at.sidebar.text_area(key="prompt").value) == 500, "an over-long prompt is kept and reported, not cut"
    assert any("500 of 200 characters" in c.value for c in at.sidebar.caption)
    at.switch_page("app_pages/impair.py").run()
    assert_user_error(at, "has 500", "at most 200")
    assert len(at.error) + len(at.sidebar.error) == 1, "one error, not two"
    linked = open_link("app_pages/impair.py", {"prompt": "word " * 100})
    assert_user_error(linked, "at most 200")
    assert not charts(linked), "an over-long prompt must not be run"


def test_unknown_model_shows_an_error_on_every_page(app_model):
    at = open_app()
    at.sidebar.text_input(key="model").set_value("no-such-org/no-such-model").run()
    for page in PAGES[1:]:
        at.switch_page(page).run()
        assert_user_error(at, "no-such-model")
        assert not charts(at)


def test_the_start_page_links_every_page(app_model):
    from promptsets.paths import REPO_ROOT

    at = open_app()
    linked = {el.proto.page for el in at.get("page_link")}  # each page's URL path, named after its file
    pages = {p.stem for p in (REPO_ROOT / "app_pages").glob("*.py") if p.name != "home.py"}
    assert pages <= linked, f"not linked from Start: {sorted(pages - linked)}"


def test_the_prompt_box_counts_tokens_and_a_long_prompt_is_one_error(app_model):
    from engine import Engine

    n_ctx = Engine.load(app_model).spec.n_ctx
    at = open_app("app_pages/impair.py")
    box = at.sidebar.text_area(key="prompt")
    assert box.max_chars < 16_000, "the box's limit follows what the model reads"
    long = "Drinex plays " * n_ctx
    box.set_value(long).run()
    assert at.sidebar.text_area(key="prompt").value == long, "the box keeps it; the page refuses it"
    assert any(f"of {n_ctx} tokens" in c.value and "too long" in c.value for c in at.sidebar.caption)
    assert_user_error(at, "tokens", f"at most {n_ctx}")
    assert len(at.error) + len(at.sidebar.error) == 1, "one error, not two"
    assert not charts(at)
