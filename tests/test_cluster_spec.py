"""Cluster values and their JSON files: validation, round trip, clear errors on bad files."""

from __future__ import annotations

import json

import pytest

from cluster import Cluster, ClusterError, load_cluster, save_cluster
from cluster.spec import cluster_to_dict


def make_cluster(**kw) -> Cluster:
    fields = dict(name="athlete", neurons=((1, 5), (0, 7), (0, 2)), scores=(3.0, 1.0, 2.0), method="selectivity",
                  topic="athlete", prompt_set="keywords:train", prompt_hash="abc", fingerprint="f" * 16,
                  model_name="demo")
    fields.update(kw)
    return Cluster(**fields)


def test_neurons_are_sorted_and_scores_follow_them():
    c = make_cluster()
    assert c.neurons == ((0, 2), (0, 7), (1, 5))
    assert c.scores == (2.0, 1.0, 3.0)
    assert c.by_layer() == {0: (2, 7), 1: (5,)}
    assert c.counts(3).tolist() == [2, 1, 0]
    assert c.size == 3 and c.layers == (0, 1)


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(neurons=((0, 1), (0, 1)), scores=()), "twice"),
        (dict(neurons=((0, -1),), scores=()), "negative"),
        (dict(neurons=((0,),), scores=()), "pair"),
        (dict(neurons=((0, "3"),), scores=()), "integers"),
        (dict(scores=(1.0,)), "one score per neuron"),
        (dict(method="magic"), "unknown cluster method"),
        (dict(site="attn_out"), "unknown site"),
        (dict(name=""), "name"),
    ],
)
def test_bad_clusters_are_refused_with_the_reason(kw, words):
    with pytest.raises(ClusterError, match=words):
        make_cluster(**kw)


def test_json_round_trip_keeps_everything(tmp_path):
    c = make_cluster(detail="top 3%")
    path = save_cluster(c, tmp_path / "sub" / "athlete.json")
    assert load_cluster(path) == c
    # Stable text, so rebuilt assets are byte-identical.
    save_cluster(c, tmp_path / "again.json")
    assert path.read_bytes() == (tmp_path / "again.json").read_bytes()


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ClusterError, match="python -m cluster find"):
        load_cluster(tmp_path / "nope.json")


@pytest.mark.parametrize(
    "text, words",
    [
        ("{not json", "not valid JSON"),
        ('{"name": "x"}', "not a LensLab cluster file"),
        ('[1, 2]', "not a LensLab cluster file"),
    ],
)
def test_corrupt_files_give_a_cluster_error(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ClusterError, match=words):
        load_cluster(path)


def test_file_with_bad_neurons_names_the_file(tmp_path):
    obj = cluster_to_dict(make_cluster())
    obj["neurons"] = [[0, 1], [0, 1]]
    obj["scores"] = []
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(ClusterError, match="dup.json.*twice"):
        load_cluster(path)


def test_newer_format_version_is_refused(tmp_path):
    obj = cluster_to_dict(make_cluster())
    obj["version"] = 99
    path = tmp_path / "v99.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(ClusterError, match="version 99"):
        load_cluster(path)
