"""Curves arithmetic, figures and sweep-file helpers, from hand-made results (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from cluster import Cluster, ClusterError, ImpairmentCurves
from cluster.curves import curves_from_rows
from cluster.impair import METRICS, prompt_metrics
from cluster.plots import plot_cluster_layers, plot_impairment_curves, plot_specificity, write_sweep_html
from cluster.sweep import HEADER, SweepSpec, parse_intensities

import torch


def make_curves(baseline: bool = True) -> ImpairmentCurves:
    topics = ("athlete", "artist", "company")
    xs = np.array([1.0, 0.5, 0.0])
    clean = np.tile(np.array([[0.8], [0.3], [1.0], [0.0]]), (1, 3))
    values = np.repeat(clean[:, :, None], 3, axis=2).copy()
    values[2, 0] = [1.0, 0.6, 0.2]  # athlete accuracy falls
    values[2, 1] = [1.0, 0.9, 0.8]  # artist falls a little
    base = np.repeat(clean[:, :, None], 3, axis=2) if baseline else None
    return ImpairmentCurves(cluster="athlete", target="athlete", mode="scale", site="mlp_post", topics=topics,
                            intensities=xs, values=values, clean=clean, baseline=base, n_prompts=(4, 4, 4))


def test_specificity_is_target_drop_minus_others_mean_drop():
    c = make_curves()
    np.testing.assert_allclose(c.drop("accuracy")[0], [0.0, 0.4, 0.8])
    np.testing.assert_allclose(c.specificity("accuracy"), [0.0, 0.4 - 0.05, 0.8 - 0.1])
    np.testing.assert_allclose(c.specificity("accuracy", baseline=True), 0.0)


def test_curves_errors_name_the_fix():
    c = make_curves(baseline=False)
    with pytest.raises(ClusterError, match="baseline_seeds"):
        c.specificity(baseline=True)
    with pytest.raises(ClusterError, match="no prompts of topic"):
        c.curve("accuracy", "toxic")
    with pytest.raises(ClusterError, match="unknown metric"):
        c.curve("f1", "athlete")


def test_impairment_figure_has_a_line_per_topic_and_dashed_baselines():
    fig = plot_impairment_curves(make_curves(), "accuracy")
    solid = [t for t in fig.data if t.line.dash != "dash"]
    dashed = [t for t in fig.data if t.line.dash == "dash"]
    assert len(solid) == 3 and len(dashed) == 3
    np.testing.assert_allclose(solid[0].y, [1.0, 0.6, 0.2])
    assert "target" in solid[0].name
    assert len(plot_impairment_curves(make_curves(baseline=False)).data) == 3
    assert len(plot_specificity(make_curves()).data) == 2


def test_layer_bar_chart_counts_units_per_layer():
    c = Cluster(name="c", neurons=((0, 1), (0, 2), (3, 0)), method="manual")
    fig = plot_cluster_layers(c, n_layers=4)
    assert list(fig.data[0].y) == [2, 0, 0, 1]
    assert len(plot_cluster_layers(c).data[0].y) == 4


def test_prompt_metrics_of_a_clean_run():
    logits = torch.tensor([[0.0, 2.0, 0.0]])
    m = dict(zip(METRICS, prompt_metrics(logits, logits[0], answer=1)))
    p = np.exp(2) / (np.exp(2) + 2)
    assert m["prob"] == pytest.approx(p) and m["loss"] == pytest.approx(-np.log(p))
    assert m["accuracy"] == 1.0 and m["kl"] == pytest.approx(0.0, abs=1e-12)
    m2 = dict(zip(METRICS, prompt_metrics(torch.tensor([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), logits[0], 1)))
    assert m2["accuracy"] == 0.5 and m2["kl"] > 0


@pytest.mark.parametrize(
    "text, expected",
    [("0:1:0.25", (0.0, 0.25, 0.5, 0.75, 1.0)), ("0:2:0.1", tuple(round(0.1 * i, 9) for i in range(21))),
     ("1,0.5,0", (1.0, 0.5, 0.0)), ("2:2:1", (2.0,))],
)
def test_intensity_ranges_include_their_stop(text, expected):
    assert parse_intensities(text) == expected


@pytest.mark.parametrize("text", ["a:b:c", "0:1:0", "1:0:0.1", "0:1"])
def test_bad_intensity_ranges_say_how_to_write_them(text):
    with pytest.raises(ClusterError, match="start:stop:step"):
        parse_intensities(text)


def test_sweep_spec_refuses_unknown_modes():
    with pytest.raises(ClusterError, match="unknown or no modes"):
        SweepSpec(modes=("melt",), intensities=(0.0,))
    spec = SweepSpec(modes=("scale",), intensities=(0.0, 1.0), seeds=(0, 1))
    assert len(list(spec.points())) == 2 * 2 * 2


def fake_rows() -> list[dict[str, str]]:
    rows = []
    for kind in ("cluster", "random"):
        for x in (0.0, 1.0):
            for seed in (0, 1):
                for topic, acc in (("athlete", x if kind == "cluster" else 1.0), ("artist", 1.0)):
                    vals = dict(prob=acc, loss=1 - acc, accuracy=acc + 0.1 * seed, kl=0.0)
                    row = dict(model="m", dtype="float32", cluster="athlete", site="mlp_post", split="heldout", kind=kind,
                               mode="scale", intensity=repr(x), seed=str(seed), topic=topic, n_prompts="5",
                               clean_prob="1", clean_loss="0", clean_accuracy="1.05")
                    row.update({k: str(v) for k, v in vals.items()})
                    rows.append(row)
    assert all(set(r) == set(HEADER) for r in rows)
    return rows


def test_curves_from_sweep_rows_average_seeds_and_split_the_baseline(tmp_path):
    c = curves_from_rows(fake_rows(), "scale", target="athlete")
    assert c.topics == ("athlete", "artist") and c.intensities.tolist() == [0.0, 1.0]
    np.testing.assert_allclose(c.curve("accuracy", "athlete"), [0.05, 1.05])
    np.testing.assert_allclose(c.specificity("accuracy"), [1.0, 0.0])
    np.testing.assert_allclose(c.specificity("accuracy", baseline=True), [0.0, 0.0])
    page = write_sweep_html(fake_rows(), tmp_path / "out" / "athlete-sweep.html", target="athlete")
    text = page.read_text()
    assert text.count("plotly-graph-div") >= 5 and "athlete" in text
