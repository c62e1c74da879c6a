"""Selectivity maths, the top-p% rule, profile grouping, random baselines and interventions, on plain arrays."""

from __future__ import annotations

import numpy as np
import pytest

from cluster import Cluster, ClusterError, impairs, random_cluster
from cluster.find import best_topic, group_units, selectivity, top_percent, units_per_layer
from engine.interventions import Impair


def planted_acts(seed: int = 0, n: int = 40, n_layers: int = 3, width: int = 50):
    """(n, n_layers, width) noise; unit 7 of every layer fires on the first half (the topic)."""
    rng = np.random.default_rng(seed)
    acts = rng.normal(size=(n, n_layers, width))
    is_topic = np.arange(n) < n // 2
    acts[is_topic, :, 7] += 3.0
    return acts, is_topic


def test_planted_topic_unit_scores_highest_in_every_layer():
    acts, is_topic = planted_acts()
    s = selectivity(acts, is_topic)
    assert s.shape == (3, 50)
    assert (s.argmax(axis=1) == 7).all()
    assert (s[:, 7] > 2).all()


def test_selectivity_is_antisymmetric_and_ignores_units_scale_and_offset():
    acts, is_topic = planted_acts(1)
    s = selectivity(acts, is_topic)
    np.testing.assert_allclose(selectivity(acts, ~is_topic), -s, atol=1e-9)
    np.testing.assert_allclose(selectivity(5.0 * acts - 2.0, is_topic), s, rtol=1e-5)


def test_dead_units_get_a_finite_zero_score():
    acts, is_topic = planted_acts(2)
    acts[:, :, 3] = 0.0
    s = selectivity(acts, is_topic)
    assert np.isfinite(s).all() and (s[:, 3] == 0).all()


def test_selectivity_needs_two_prompts_on_each_side():
    acts, _ = planted_acts()
    one = np.zeros(len(acts), dtype=bool)
    one[0] = True
    with pytest.raises(ClusterError, match="at least 2 prompts"):
        selectivity(acts, one)


def test_top_percent_takes_the_same_count_from_each_layer_best_first():
    acts, is_topic = planted_acts()
    pairs, scores = top_percent(selectivity(acts, is_topic), percent=4)
    assert len(pairs) == 3 * units_per_layer(50, 4) == 6
    assert [p for p in pairs if p[1] == 7] == [(0, 7), (1, 7), (2, 7)]
    by_layer = [scores[i:i + 2] for i in range(0, 6, 2)]
    assert all(a >= b for a, b in by_layer)


@pytest.mark.parametrize("percent", [0, -1, 101])
def test_percent_outside_0_100_is_refused(percent):
    with pytest.raises(ClusterError, match="percent"):
        units_per_layer(100, percent)


def test_tiny_percent_still_takes_one_unit_per_layer():
    assert units_per_layer(64, 0.1) == 1


def test_profile_grouping_recovers_planted_groups():
    rng = np.random.default_rng(0)
    n, width = 60, 20
    acts = rng.normal(scale=0.1, size=(n, 2, width))
    a, b = np.sin(np.arange(n)), np.cos(np.arange(n) * 0.7)
    acts[:, 0, :10] += a[:, None]
    acts[:, 1, :10] += b[:, None]
    for method in ("kmeans", "agglomerative"):
        groups = [set(g.tolist()) for g in group_units(acts, 2, method, seed=0)]
        planted_a, planted_b = set(range(10)), set(range(width, width + 10))
        assert any(planted_a <= g for g in groups) and any(planted_b <= g for g in groups)
        assert not any(planted_a <= g and planted_b <= g for g in groups)


def test_group_count_must_fit_the_units():
    acts, _ = planted_acts()
    with pytest.raises(ClusterError, match="k must be"):
        group_units(acts, 1)


def test_best_topic_is_the_one_that_fires_the_group():
    acts, is_topic = planted_acts()
    labels = ["athlete" if t else "artist" for t in is_topic]
    assert best_topic(acts, np.array([7, 50 + 7]), labels) == "athlete"


def small_cluster() -> Cluster:
    return Cluster(name="c", neurons=((0, 1), (0, 4), (2, 3)), method="manual")


def test_random_cluster_matches_counts_draws_from_all_units_and_is_seeded():
    c = small_cluster()
    r0, r0b, r1 = random_cluster(c, 10, 0), random_cluster(c, 10, 0), random_cluster(c, 10, 1)
    assert r0.counts(3).tolist() == c.counts(3).tolist()
    assert r0 == r0b and r0.neurons != r1.neurons
    assert all(u < 10 for _, u in r0.neurons)
    # Every unit of the layer can be drawn, the cluster's own included (a fair baseline, not one biased away from it).
    drawn = {n for seed in range(200) for n in random_cluster(c, 10, seed).neurons}
    assert set(c.neurons) <= drawn and {u for layer, u in drawn if layer == 0} == set(range(10))


def test_random_cluster_refuses_a_layer_larger_than_the_model_has():
    c = Cluster(name="c", neurons=tuple((0, u) for u in range(6)), method="manual")
    assert random_cluster(c, 6, 0).counts(1).tolist() == [6]
    with pytest.raises(ClusterError, match="smaller cluster"):
        random_cluster(c, 5, 0)


def test_impairs_gives_one_intervention_per_layer_at_the_cluster_site():
    ivs = impairs(small_cluster(), "scale", 0.5, seed=3)
    assert [(i.layer, i.neurons) for i in ivs] == [(0, (1, 4)), (2, (3,))]
    assert all(isinstance(i, Impair) and i.mode == "scale" and i.intensity == 0.5 for i in ivs)
    assert len({i.seed for i in ivs}) == 2
    hash(ivs)


def test_mean_mode_takes_each_units_mean():
    means = np.arange(30, dtype=float).reshape(3, 10)
    ivs = impairs(small_cluster(), "mean", 1.0, means=means)
    assert [i.mean for i in ivs] == [(1.0, 4.0), (23.0,)]
    with pytest.raises(ClusterError, match="unit_means"):
        impairs(small_cluster(), "mean", 1.0)


def test_unknown_mode_is_refused():
    with pytest.raises(ClusterError, match="unknown impairment mode"):
        impairs(small_cluster(), "melt", 1.0)
