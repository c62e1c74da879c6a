"""AppTest of the Edit page: edit a demo fact, see it move, check robustness; edits never cross sessions."""

from __future__ import annotations

import numpy as np

from test_app_helpers import (app_model, array, assert_clean, assert_every_chart_captioned,  # noqa: F401
                              assert_user_error, charts, metric_values, open_app, open_typed)

PAGE = "app_pages/edit.py"
FACT = {"prompt": "Dadon plays", "target": " rugby"}


def open_fact(query: dict | None = None):
    return open_typed(PAGE, FACT["prompt"], FACT["target"], query)


def bars(at, name: str) -> np.ndarray:
    fig = next(f for f in charts(at) if f["data"][0]["type"] == "bar")
    return array(next(t["x"] for t in fig["data"] if t["name"] == name))


def test_editing_a_demo_fact_moves_it_and_its_paraphrases(app_model):
    at = open_fact({"edit_new": " cycling"})
    assert_clean(at)
    assert at.selectbox(key="edit_new").value == " cycling"
    before, after = bars(at, "before"), bars(at, "after the edit")
    assert before[0] < 0.05 and after[0] >= 0.9  # the edit prompt's p(new object)
    assert len(before) == 1 + 2 + 8  # the edit prompt, its paraphrases, eight neighbours
    assert float(metric_values(at)["Efficacy (p new)"]) >= 0.9
    assert_every_chart_captioned(at)


def test_every_method_applies_and_the_url_keeps_it(app_model):
    at = open_fact({"edit_new": " cycling"})
    for method in ("low_rank", "finetune", "interp"):
        at.selectbox(key="edit_method").set_value(method).run()
        assert_clean(at)
        assert bars(at, "after the edit")[0] > 0.5
    assert at.slider(key="edit_alpha").value == 0.5
    linked = open_fact({"edit_new": " cycling", "edit_method": "low_rank", "edit_rank": "2", "edit_layer": "2"})
    assert_clean(linked)
    assert linked.selectbox(key="edit_method").value == "low_rank"
    assert linked.number_input(key="edit_rank").value == 2 and linked.slider(key="edit_layer").value == 2
    assert "direct low-rank (r=2), layer 2" in charts(linked)[0]["layout"]["title"]["text"]


def test_an_edit_never_shows_in_another_session(app_model):
    edited = open_fact({"edit_new": " cycling"})
    assert_clean(edited)
    other = open_app("app_pages/impair.py")
    other.sidebar.text_area(key="prompt").set_value(FACT["prompt"]).run()
    other.sidebar.text_input(key="target").set_value(FACT["target"]).run()
    assert_clean(other)
    clean = next(t for t in charts(other)[0]["data"] if t["name"] == "clean")
    y = array(clean["y"])
    assert "rugby" in str(clean["x"][int(np.argmax(y))]) and y.max() > 0.9  # the other session's model is unedited
    edited.run()  # and the first session still sees its edit
    assert bars(edited, "after the edit")[0] >= 0.9


def test_robustness_live_numbers_and_curves(app_model):
    at = open_fact({"edit_new": " cycling"})
    assert at.selectbox(key="edit_cluster").value is None  # none chosen: the fact's topic cluster is used
    assert any(c.value.startswith("athlete\\:") for c in at.caption)
    at.slider(key="edit_intensity_noise").set_value(0.0).run()
    values = metric_values(at)
    assert values["Edited fact: top-1 accuracy"] == "100%" and values["Learned facts: top-1 accuracy"] == "100%"
    at.slider(key="edit_intensity_noise").set_value(10.0).run()
    values = metric_values(at)
    assert values["Edited fact: top-1 accuracy"] != "100%" and values["Learned facts: top-1 accuracy"] != "100%"
    at.button(key="edit_curves_btn").click().run()
    assert_clean(at)
    line = next(f for f in charts(at) if f["data"][0]["type"] == "scatter")
    names = [t["name"] for t in line["data"]]
    assert len(names) == 4 and names[0].startswith("edited fact") and names[1].startswith("learned facts")
    assert array(line["data"][0]["y"])[0] == 1.0
    assert_every_chart_captioned(at)


def test_a_typed_fact_needs_subject_and_object_and_bad_ones_are_explained(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value("Our friend Dadon plays").run()
    at.switch_page(PAGE).run()
    assert_clean(at)
    assert any("subject" in i.value for i in at.info)
    at.text_input(key="edit_subject").set_value("Zodro").run()
    at.text_input(key="edit_new_text").set_value(" cycling").run()
    assert_user_error(at, "must appear in the prompt")
    at.text_input(key="edit_subject").set_value("Dadon").run()
    assert_clean(at)
    assert bars(at, "after the edit")[0] >= 0.9
