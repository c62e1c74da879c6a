"""A shared link with bad parameters: the page says what it ignored and never shows a traceback
(test_app_link_rules.py holds every bound widget to the rule its link is checked against)."""

from __future__ import annotations

import pytest

from test_app_helpers import (app_model, assert_clean, assert_user_error, charts, open_app, open_link,  # noqa: F401
                              warnings_text)

IMPAIR = "app_pages/impair.py"


@pytest.mark.parametrize("query, named", [
    ({"k": "inf"}, "k="), ({"seed": "-5"}, "seed="), ({"k": "nan"}, "k="), ({"points": "1e999"}, "points="),
    ({"mode": "bogus"}, "mode="), ({"intensity_noise": "1e9"}, "intensity_noise="),
    ({"noise_max": "-inf"}, "noise_max="), ({"per_topic": "99999999999999999999999999"}, "per_topic="),
])
def test_a_bad_link_parameter_is_reported_and_the_page_still_works(app_model, query, named):
    at = open_link(IMPAIR, query)
    assert not at.exception, [e.value for e in at.exception]
    assert named in warnings_text(at) and "ignored" in warnings_text(at)
    assert charts(at), "the page must still draw with the parameter ignored"


def test_a_good_link_is_followed_without_a_word(app_model):
    at = open_link(IMPAIR, {"k": "3", "intensity_noise": "4.5", "mode": "noise"})
    assert_clean(at)
    assert "ignored" not in warnings_text(at)
    assert at.number_input(key="k").value == 3 and at.slider(key="intensity_noise").value == 4.5


def test_a_huge_unit_range_in_a_link_is_refused(app_model):
    at = open_link(IMPAIR, {"cluster": "custom units…", "cluster_units": "3:0-3000000"})
    assert_user_error(at, "3:0-3000000")
    assert not charts(at)


def test_an_unknown_cluster_in_a_link_is_said_to_be_unavailable(app_model):
    at = open_link(IMPAIR, {"cluster": "nope"})
    assert not at.exception
    assert "'nope'" in warnings_text(at) and "not available" in warnings_text(at)
    assert charts(at)


@pytest.mark.parametrize("page", ["app_pages/lens.py", IMPAIR, "app_pages/memory.py", "app_pages/compare.py",
                                  "app_pages/edit.py"])
def test_a_multi_token_target_is_refused_with_a_notice_not_cut(app_model, page):
    at = open_app()
    at.sidebar.text_input(key="target").set_value(" Bogrolixian Peicenton").run()
    at.switch_page(page).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    notice = warnings_text(at)
    assert "tokens (" in notice and "not used" in notice and "single token" in notice, notice
    assert not [m for m in at.metric if "Bog" in m.label], "no number follows a cut target"


def test_a_multi_token_new_object_is_refused_not_cut(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value("Our friend Dadon plays").run()
    at.switch_page("app_pages/edit.py").run()
    at.text_input(key="edit_subject").set_value("Dadon").run()
    at.text_input(key="edit_new_text").set_value(" Bogrolixian Peicenton").run()
    assert not at.exception and not at.error
    assert "tokens (" in warnings_text(at) and "single token" in warnings_text(at)
    assert not at.metric, "no edit was made with the first token"


def test_the_nan_error_names_a_big_cluster_briefly(app_model):
    at = open_app(IMPAIR, {"cluster": "custom units…", "cluster_units": "3:0-127"})
    at.number_input(key="noise_max").set_value(1e38).run()
    at.slider(key="intensity_noise").set_value(1e38).run()
    assert_user_error(at, "NaN", "128 in all")
    assert "100, 101" not in " ".join(e.value for e in at.error)

