"""Clusters with the budget allocated across layers (``cluster find --allocate global``).

Global allocation spends the same number of units as per-layer, but where attribution puts
them; the bench's random clusters must then match its per-layer counts, not an even spread.
"""

from __future__ import annotations

import numpy as np
import pytest

from cluster import save_cluster
from cluster.attribution import attribution_clusters_from_scores, find_attribution_clusters, grow
from cluster.cli import main as cluster_main
from cluster.errors import ClusterError
from cluster.find import units_per_layer
from cluster.impair import random_cluster
from cluster.spec import load_cluster
from engine import Engine
from promptsets.schema import write_jsonl
from test_cluster_engine import tiny_prompts


def _scores(n_layers: int = 3, width: int = 100) -> np.ndarray:
    """``(1, n_layers, width)``: layer 0 holds four best units, layer 1 many good ones, layer 2 none."""
    attr = np.zeros((1, n_layers, width))
    attr[0, 1, :] = np.linspace(10, 5, width)
    attr[0, 0, :4] = 20.0
    return attr


def test_global_spends_the_same_budget_where_the_scores_are():
    attr = _scores()
    per_layer, _ = grow(attr, None, lambda a: a[0], 5, 1, "per-layer")
    global_, _ = grow(attr, None, lambda a: a[0], 5, 1, "global")
    k = units_per_layer(100, 5)
    assert len(per_layer) == len(global_) == 3 * k
    assert [sum(l_ == layer for l_, _ in per_layer) for layer in range(3)] == [k, k, k]
    counts = [sum(l_ == layer for l_, _ in global_) for layer in range(3)]
    assert counts[2] == 0 and counts[0] == 4 and counts[1] == 3 * k - 4


def test_global_rounds_rank_again_with_the_chosen_units_zeroed():
    """After round 1 the recomputed scores favour layer 2: round 2 must take its units there."""
    attr = _scores()
    seen = []

    def attribute(zeroed):
        seen.append(zeroed)
        later = np.zeros_like(attr)
        later[0, 2, :] = 100.0
        return later

    pairs, _ = grow(attr, attribute, lambda a: a[0], 5, 2, "global")
    k = 3 * units_per_layer(100, 5)
    assert len(seen) == 1 and sum(len(u) for u in seen[0].values()) == k // 2
    assert sum(l_ == 2 for l_, _ in pairs) == k - k // 2
    assert len(set(pairs)) == len(pairs)


def test_random_clusters_match_a_global_clusters_uneven_counts():
    attr = _scores()
    cluster = attribution_clusters_from_scores(attr, ["a"], 5, ["a"], allocate="global")["a"]
    rand = random_cluster(cluster, 100, seed=0)
    assert rand.counts(3).tolist() == cluster.counts(3).tolist() == [4, 11, 0]
    assert "allocated across layers" in cluster.detail


def test_an_unknown_allocation_is_refused():
    with pytest.raises(ClusterError, match="per-layer, global"):
        grow(_scores(), None, lambda a: a[0], 5, 1, "everywhere")


def test_find_writes_global_clusters_and_refuses_them_for_selectivity(tiny_model_dir, tmp_path, capsys):
    engine = Engine.load(tiny_model_dir)
    found = find_attribution_clusters(engine, tiny_prompts(), 10, topics=["athlete"], split=None, rounds=2,
                                      allocate="global")["athlete"]
    per = find_attribution_clusters(engine, tiny_prompts(), 10, topics=["athlete"], split=None, rounds=2)["athlete"]
    assert found.size == per.size
    save_cluster(found, tmp_path / "g.json")
    assert load_cluster(tmp_path / "g.json", engine).neurons == found.neurons
    write_jsonl(tmp_path / "prompts" / "keywords.jsonl", tiny_prompts())
    capsys.readouterr()
    code = cluster_main(["find", "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "prompts"),
                         "--out", str(tmp_path / "out"), "--method", "selectivity", "--allocate", "global"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--allocate global" in err[0] and "attribution" in err[0]
