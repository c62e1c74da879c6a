"""AppTest of the Clusters page: find with progress, inspect, save, and bad cluster files."""

from __future__ import annotations

import json

import pytest

from cluster.spec import load_cluster
from test_app_helpers import (app_model, assert_clean, assert_every_chart_captioned, assert_user_error, charts,  # noqa: F401
                              open_app, open_link, warnings_text)
from promptsets.paths import DEMO_CLUSTERS

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


def test_attribution_is_offered_and_its_clusters_say_how_they_were_found(app_model):
    at = open_app(PAGE)
    at.selectbox(key="find_method").set_value("attribution").run()
    at.number_input(key="find_percent").set_value(2.0).run()
    at.button(key="find_go").click().run()
    assert_clean(at)
    assert at.success
    shipped = {"athlete", "artist", "company", "toxic", "harmless", "custom units…"}
    found = sorted(p for p in at.selectbox(key="cluster").options if p not in shipped)  # found ones never shadow shipped
    at.selectbox(key="cluster").set_value(found[0]).run()
    assert_clean(at)
    assert any("activation x gradient" in c.value for c in at.caption)
    assert any("--method attribution --percent 2" in c.value for c in at.code)


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


def _upload(at, name: str, body: dict):
    return at.file_uploader(key="cluster_upload").upload(name, json.dumps(body).encode(), "application/json").run()


def test_an_upload_that_fails_the_model_check_changes_nothing(app_model):
    shipped_or_found = open_app(PAGE, {"cluster": "custom units…", "cluster_units": "0:0-3"})
    body = {"format": "lenslab-cluster", "version": 1, "name": "athlete", "neurons": [[0, 1], [1, 2]],
            "fingerprint": "0" * 16, "model_name": "another-model"}
    at = _upload(shipped_or_found, "athlete.json", body)
    assert_user_error(at, "made for another-model")
    assert not at.success, [s.value for s in at.success]
    found = at.session_state["_found_clusters"] if "_found_clusters" in at.session_state else {}
    assert "athlete" not in found


@pytest.mark.parametrize("n, message", [(300_000, "huge.json names 300000 units, more than this model has in all"),
                                        (3_000_000, "is at most 16 MB")])
def test_an_upload_too_big_for_the_model_is_refused_before_it_is_built(app_model, n, message):
    at = open_app(PAGE)
    body = {"format": "lenslab-cluster", "version": 1, "name": "huge", "neurons": [[0, 0]] * n}
    at = _upload(at, "huge.json", body)
    assert_user_error(at, message)
    assert not at.success


def test_a_good_upload_is_offered_in_the_picker(app_model):
    at = open_app(PAGE)
    at = _upload(at, "mine.json", {"format": "lenslab-cluster", "version": 1, "name": "mine", "neurons": [[0, 1]]})
    assert_clean(at)
    assert at.success and "mine" in at.selectbox(key="cluster").options


def test_save_to_follows_the_chosen_cluster(app_model, tmp_path):
    at = open_app(PAGE, {"cluster": "athlete"})
    assert at.text_input(key="save_path").value == "clusters/athlete.json"
    at.selectbox(key="cluster").set_value("toxic").run()
    assert at.text_input(key="save_path").value == "clusters/toxic.json"
    at.text_input(key="save_path").set_value(str(tmp_path / "toxic.json")).run()
    at.button(key="save_go").click().run()
    assert_clean(at)
    assert load_cluster(tmp_path / "toxic.json") == load_cluster(DEMO_CLUSTERS / "toxic.json")


def test_a_found_cluster_never_shadows_a_shipped_one(app_model):
    at = open_app(PAGE)
    at.number_input(key="find_percent").set_value(2.0).run()
    at.button(key="find_go").click().run()
    names = at.selectbox(key="cluster").options
    assert "athlete" in names and "athlete-session" in names, names
    at.selectbox(key="cluster").set_value("athlete").run()
    shipped = load_cluster(DEMO_CLUSTERS / "athlete.json")
    assert f"{shipped.size} " in " ".join(c.value for c in at.caption), "'athlete' must stay the shipped cluster"
    at.selectbox(key="cluster").set_value("athlete-session").run()
    assert any("this session only" in c.value for c in at.caption)


def test_a_link_to_a_session_only_cluster_says_it_is_not_here(app_model):
    at = open_link(PAGE, {"cluster": "athlete-session"})
    assert not at.exception
    assert "not available" in warnings_text(at) and "another browser session" in warnings_text(at)
