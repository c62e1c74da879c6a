"""AppTest of the Clusters page: find with progress, inspect, save, and bad cluster files."""

from __future__ import annotations

import json

from cluster.storage import load_cluster
from test_app_helpers import app_model, assert_clean, assert_every_chart_captioned, assert_user_error, charts, open_app  # noqa: F401

PAGE = "app_pages/clusters.py"


def test_finding_clusters_offers_them_for_inspection(app_model):
    at = open_app(PAGE)
    assert_clean(at)
    at.number_input(key="find_percent").set_value(2.0).run()
    at.button(key="find_go").click().run()
    assert_clean(at)
    assert at.success, "finding clusters must say what it found"
    names = at.selectbox(key="cluster").options
    topics = {p for p in names if p != "custom units…"}
    assert len(topics) >= 2, names
    at.selectbox(key="cluster").set_value(sorted(topics)[0]).run()
    assert_clean(at)
    layers = charts(at)[0]
    assert "units by layer" in layers["layout"]["title"]["text"]
    assert_every_chart_captioned(at)


def test_describing_a_cluster_lists_prompts_and_tokens(app_model):
    at = open_app(PAGE, {"cluster": "custom units…", "cluster_units": "2:0-31"})
    at.button(key="describe_go").click().run()
    assert_clean(at)
    assert len(at.dataframe) == 3, "top prompts, top token positions, promoted tokens per unit"
    assert any("promotes" in m.value for m in at.markdown)


def test_saving_a_cluster_writes_a_file_that_loads_back(app_model, tmp_path):
    at = open_app(PAGE, {"cluster": "custom units…", "cluster_units": "1:3-5, 2:7"})
    path = tmp_path / "saved" / "mine.json"
    at.text_input(key="save_path").set_value(str(path)).run()
    at.button(key="save_go").click().run()
    assert_clean(at)
    cluster = load_cluster(path)
    assert cluster.neurons == ((1, 3), (1, 4), (1, 5), (2, 7))


def test_a_corrupt_cluster_file_shows_an_error(app_model):
    at = open_app(PAGE)
    at.file_uploader(key="cluster_upload").upload("broken.json", b"{ not json", "application/json").run()
    assert_user_error(at, "broken.json")


def test_a_cluster_with_missing_neurons_shows_an_error(app_model):
    bad = {"format": "lenslab-cluster", "version": 1, "name": "too-far", "neurons": [[0, 10 ** 6]]}
    at = open_app(PAGE)
    at.file_uploader(key="cluster_upload").upload("far.json", json.dumps(bad).encode(), "application/json").run()
    assert_user_error(at, "too-far")
