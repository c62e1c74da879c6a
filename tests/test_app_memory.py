"""AppTest of the Memory page: inject a memory, move the scale, sweep layer x scale, bad input."""

from __future__ import annotations

import numpy as np

from test_app_helpers import (app_model, array, assert_clean, assert_every_chart_captioned,  # noqa: F401
                              assert_user_error, charts, metric_values, open_app)

PAGE = "app_pages/memory.py"
VIEW = {"prompt": "The founder of Bridirkex was born in", "target": " Peicenton", "memory": " Krothux"}


def after_bars(at) -> np.ndarray:
    """Probabilities of the top tokens with the memory injected, from the chart."""
    fig = next(f for f in charts(at) if f["data"][0]["type"] == "bar")
    return array(next(t["x"] for t in fig["data"] if t["name"] == "after"))


def test_without_a_memory_the_page_asks_for_one(app_model):
    at = open_app(PAGE)
    assert_clean(at)
    assert any("memory text" in i.value for i in at.info)


def test_moving_the_scale_changes_the_answer_probability(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value(VIEW["prompt"]).run()
    at.sidebar.text_input(key="target").set_value(VIEW["target"]).run()
    at.switch_page(PAGE).run()
    at.text_input(key="memory").set_value(VIEW["memory"]).run()
    assert_clean(at)
    before = after_bars(at)
    at.slider(key="mem_scale").set_value(12.0).run()
    assert_clean(at)
    after = after_bars(at)
    assert after.shape != before.shape or not np.allclose(after, before)
    at.slider(key="mem_scale").set_value(0.0).run()
    values = metric_values(at)
    assert values["after injection"] == next(v for k, v in values.items() if k.endswith("before"))
    assert_every_chart_captioned(at)


def test_layer_scale_heatmap_on_demand(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value(VIEW["prompt"]).run()
    at.sidebar.text_input(key="target").set_value(VIEW["target"]).run()
    at.switch_page(PAGE).run()
    at.text_input(key="memory").set_value(VIEW["memory"]).run()
    at.button(key="mem_sweep").click().run()
    assert_clean(at)
    heat = next(f for f in charts(at) if f["data"][0]["type"] == "heatmap")
    assert len(heat["data"][0]["y"]) == 4 and len(heat["data"][0]["x"]) == 15
    assert_every_chart_captioned(at)


def test_empty_prompt_shows_an_error(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value("   ").run()
    at.switch_page(PAGE).run()
    assert_user_error(at, "prompt")


def colour_name(rgb: str) -> str:
    r, g, b = (int(v) for v in rgb[rgb.index("(") + 1:-1].split(","))
    return "red" if r > b else "blue"


def test_the_heatmap_caption_names_the_colours_the_colour_bar_shows(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value(VIEW["prompt"]).run()
    at.sidebar.text_input(key="target").set_value(VIEW["target"]).run()
    at.switch_page(PAGE).run()
    at.text_input(key="memory").set_value(VIEW["memory"]).run()
    at.button(key="mem_sweep").click().run()
    heat = next(f for f in charts(at) if f["data"][0]["type"] == "heatmap")["data"][0]
    assert heat["zmid"] == 0.0, "the colour bar is centred on no change (log gain 0)"
    more, less = colour_name(heat["colorscale"][-1][1]), colour_name(heat["colorscale"][0][1])
    caption = next(c.value for c in at.caption if "more" in c.value and "less" in c.value)
    assert f"{more}: more" in caption and f"{less}: less" in caption, caption
