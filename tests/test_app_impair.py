"""AppTest of the Impair page: it renders, the slider moves the probabilities, bad input shows st.error."""

from __future__ import annotations

import numpy as np
import pytest

from test_app_helpers import (app_model, array, assert_clean, assert_every_chart_captioned, assert_user_error,  # noqa: F401
                              charts, metric_values, open_app)

PAGE = "app_pages/impair.py"


def impaired_bars(at) -> np.ndarray:
    """Heights of the impaired bars of the live chart."""
    fig = charts(at)[0]
    return array(next(t["y"] for t in fig["data"] if t["name"].startswith("impaired")))


def test_impair_page_renders_chart_metrics_and_captions(app_model):
    at = open_app(PAGE)
    assert_clean(at)
    assert charts(at), "the live probability chart is missing"
    labels = metric_values(at)
    assert any(label.startswith("KL from clean") for label in labels)
    assert "Target rank" in labels
    assert any("bar" in c.value for c in at.caption), "the chart has no caption saying what a bar means"
    assert at.slider(key="intensity_noise").value == 2.0


def test_moving_the_slider_changes_the_probabilities(app_model):
    at = open_app(PAGE)
    before_bars, before_kl = impaired_bars(at), metric_values(at)["KL from clean (nats)"]
    at.slider(key="intensity_noise").set_value(9.0).run()
    assert_clean(at)
    after_bars, after_kl = impaired_bars(at), metric_values(at)["KL from clean (nats)"]
    assert not np.allclose(after_bars, before_bars)
    assert float(after_kl) > float(before_kl)


def test_scale_one_leaves_the_model_clean(app_model):
    at = open_app(PAGE, {"mode": "scale", "intensity_scale": "1.0"})
    assert_clean(at)
    assert at.selectbox(key="mode").value == "scale"
    assert float(metric_values(at)["KL from clean (nats)"]) == 0.0
    fig = charts(at)[0]
    clean, impaired = (array(t["y"]) for t in fig["data"])
    np.testing.assert_allclose(impaired, clean, atol=1e-6)


def test_a_link_reproduces_the_view(app_model):
    at = open_app(PAGE, {"intensity_noise": "4.5", "k": "3", "seed": "7", "pos": "last"})
    assert_clean(at)
    assert at.slider(key="intensity_noise").value == 4.5
    assert at.number_input(key="k").value == 3
    assert at.number_input(key="seed").value == 7
    assert at.radio(key="pos").value == "last"


def test_empty_prompt_shows_an_error(app_model):
    at = open_app()
    at.sidebar.text_area(key="prompt").set_value("").run()
    at.switch_page(PAGE).run()
    assert_user_error(at, "prompt")
    assert not charts(at)


def test_unknown_model_shows_an_error(app_model, tmp_path):
    at = open_app()
    at.sidebar.text_input(key="model").set_value(str(tmp_path / "no-such-model")).run()
    at.switch_page(PAGE).run()
    assert_user_error(at, "no-such-model")


def test_units_outside_the_model_show_an_error(app_model):
    at = open_app(PAGE, {"cluster": "custom units…", "cluster_units": "99:0-3"})
    assert_user_error(at, "99")


def test_impairment_curves_on_demand(app_model):
    at = open_app(PAGE, {"points": "3", "per_topic": "2"})
    assert len(charts(at)) == 1, "curves are computed only when asked"
    at.button(key="curves_go").click().run()
    assert_clean(at)
    figs = charts(at)
    curves = figs[1]
    topics = {t["name"] for t in curves["data"] if "random" not in t["name"]}
    assert len(topics) >= 2 and any("(target)" in name for name in topics)
    assert any("random cluster" in t["name"] for t in curves["data"])
    assert "Specificity" in figs[2]["layout"]["title"]["text"]
    assert_every_chart_captioned(at)


def test_huge_noise_shows_an_error_not_a_traceback(app_model):
    at = open_app(PAGE)
    at.number_input(key="noise_max").set_value(1e38).run()
    at.slider(key="intensity_noise").set_value(1e38).run()
    assert_user_error(at, "NaN")


@pytest.mark.parametrize("mode", ["zero", "mean", "negative_noise"])
def test_every_mode_moves_the_probabilities(app_model, mode):
    at = open_app(PAGE, {"mode": mode})
    assert_clean(at)
    assert float(metric_values(at)["KL from clean (nats)"]) > 0.0
    assert (len(at.slider) == 1) == (mode == "negative_noise"), "zero and mean ablation have no intensity"


def test_the_chart_shows_the_engine_readout(app_model):
    """The bars, whiskers and metrics are RunResult's numbers, standard deviation convention included."""
    from cluster.impair import impairs
    from cluster.spec import Cluster
    from cluster.units import parse_units
    from engine import Engine

    at = open_app(PAGE, {"cluster": "custom units…", "cluster_units": "1:0-15", "cluster_site": "mlp_post",
                         "intensity_noise": "3.0", "k": "8", "seed": "5", "pos": "all"})
    assert_clean(at)
    engine = Engine.load(app_model)
    cluster = Cluster(name="custom", neurons=parse_units("1:0-15"), method="manual", site="mlp_post")
    run = engine.run(at.sidebar.text_area(key="prompt").value, impairs(cluster, "noise", 3.0, seed=5), samples=8)
    target = at.sidebar.text_input(key="target").value
    r = run.readout(10, engine.token_id(target) if target.strip() else None)
    clean, impaired = charts(at)[0]["data"]
    np.testing.assert_allclose(array(clean["y"]), r.clean, rtol=1e-12)
    np.testing.assert_allclose(array(impaired["y"]), r.mean, rtol=1e-12)
    np.testing.assert_allclose(array(impaired["error_y"]["array"]), r.std, rtol=1e-12)
    np.testing.assert_allclose(r.mean, run.probs_mean[r.ids].numpy(), atol=1e-6)
    np.testing.assert_allclose(r.std, run.probs_std[r.ids].numpy(), atol=1e-6)
    assert r.std.max() > 0
    shown = metric_values(at)
    assert shown["KL from clean (nats)"] == f"{r.kl:.4f}"
    assert shown["Target rank"] == f"{r.rank_mean}"
