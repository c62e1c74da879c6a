"""AppTest of the Compare page: CKA clean vs impaired moves with the slider; two models; bad second model."""

from __future__ import annotations

import numpy as np

from test_app_helpers import app_model, array, assert_clean, assert_every_chart_captioned, assert_user_error, charts, open_app  # noqa: F401

PAGE = "app_pages/compare.py"


def cka_bars(at) -> np.ndarray:
    fig = next(f for f in charts(at) if f["data"][0]["type"] == "bar")
    return array(fig["data"][0]["y"])


def test_cka_drops_as_the_noise_grows(app_model):
    at = open_app(PAGE, {"cluster": "custom units…", "cluster_units": "0:0-63", "cka_intensity_noise": "0.0"})
    assert_clean(at)
    np.testing.assert_allclose(cka_bars(at), 1.0, atol=1e-6)
    at.slider(key="cka_intensity_noise").set_value(8.0).run()
    assert_clean(at)
    after = cka_bars(at)
    assert after[-1] < 0.999 and np.all(after <= 1.0 + 1e-6)
    assert_every_chart_captioned(at)


def test_a_model_compared_with_itself_has_a_unit_diagonal(app_model):
    at = open_app(PAGE, {"model_b": "demo"})
    assert_clean(at)
    heat = next(f for f in charts(at) if f["data"][0]["type"] == "heatmap")
    z = array(heat["data"][0]["z"]).reshape(len(heat["data"][0]["y"]), len(heat["data"][0]["x"]))
    np.testing.assert_allclose(np.diag(z), 1.0, atol=1e-6)


def test_a_model_with_another_tokenizer_shows_an_error(app_model, tiny_model_dir):
    at = open_app(PAGE, {"model_b": str(tiny_model_dir)})
    if app_model == str(tiny_model_dir):
        assert_clean(at)
    else:
        assert_user_error(at, "tokenizer")


def test_compare_says_which_prompts_it_pooled_and_the_user_picks_the_set(app_model):
    from ui.compare import pooled_prompts
    from ui.shell import keyword_prompts

    at = open_app(PAGE, {"cka_pool": "8"})
    listed = at.get("text")[0].value.splitlines()
    assert len(listed) == 8
    topics = {p.topic for p in keyword_prompts() if p.prompt in listed}
    assert len(topics) >= 4, "every topic in turn, not the first topic's prompts"
    assert any("8 held-out keyword prompts (every topic)" in e.proto.label.replace("\\", "") for e in at.expander)
    at.selectbox(key="cka_set").set_value("artist").run()
    listed = at.get("text")[0].value.splitlines()
    assert listed == list(pooled_prompts(keyword_prompts(), "artist", 8))
    assert {p.topic for p in keyword_prompts() if p.prompt in listed} == {"artist"}
