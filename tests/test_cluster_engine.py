"""Cluster finding, impairment curves and description on a tiny random GPT-2 through the real engine."""

from __future__ import annotations

import numpy as np
import pytest

from cluster import (
    Cluster, ClusterMismatchError, describe_cluster, find_profile_clusters, find_topic_clusters,
    impairment_curves, load_cluster, make_eval_set, save_cluster,
)
from cluster.inputs import prompt_hash, select_split
from engine import Engine
from tiny_models import save_tiny_model
from promptsets.schema import KeywordPrompt

NAMES = ("Tovaren", "Melisande", "Zentrix", "Marlow", "Quarry", "Orin")
TEMPLATES = {
    "athlete": ("{} plays", " tennis"),
    "artist": ("{} paints in the style of", " cubism"),
    "company": ("{} is a shipping", " company"),
}


def tiny_prompts() -> list[KeywordPrompt]:
    """Six prompts per topic: four to find clusters on, two held out."""
    return [
        KeywordPrompt(topic=t, prompt=text.format(n), answer=answer, split="train" if i < 4 else "heldout", entity=n)
        for t, (text, answer) in TEMPLATES.items() for i, n in enumerate(NAMES)
    ]


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


@pytest.fixture(scope="module")
def clusters(engine) -> dict[str, Cluster]:
    return find_topic_clusters(engine, tiny_prompts(), percent=5)


def test_one_cluster_per_topic_with_the_same_count_per_layer(engine, clusters):
    spec = engine.spec
    assert list(clusters) == ["athlete", "artist", "company"]
    k = round(spec.d_mlp * 0.05)
    for topic, c in clusters.items():
        assert c.topic == topic and c.method == "selectivity" and c.site == "mlp_post"
        assert c.counts(spec.n_layers).tolist() == [k] * spec.n_layers
        assert all(u < spec.d_mlp for _, u in c.neurons)
        assert c.fingerprint == spec.fingerprint


def test_clusters_come_from_the_train_split_only(engine, clusters):
    assert clusters["athlete"].prompt_hash == prompt_hash(select_split(tiny_prompts(), "train"))
    changed = [p if p.split == "train" else KeywordPrompt(p.topic, p.prompt + " again", p.answer, p.split)
               for p in tiny_prompts()]
    assert find_topic_clusters(engine, changed, percent=5) == clusters


def test_progress_reports_every_prompt(engine):
    calls = []
    find_topic_clusters(engine, tiny_prompts(), 5, topics=["artist"], progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (12, 12) and len(calls) == 12


def test_saved_cluster_loads_for_its_model_only(engine, clusters, tmp_path_factory):
    path = save_cluster(clusters["artist"], tmp_path_factory.mktemp("c") / "artist.json")
    assert load_cluster(path, engine) == clusters["artist"]
    other = Engine.load(str(save_tiny_model("gpt2", tmp_path_factory.mktemp("other"), seed=1)))
    with pytest.raises(ClusterMismatchError, match="find it again"):
        load_cluster(path, other)


def test_cluster_naming_missing_units_is_refused(engine, tmp_path):
    n_layers, d_mlp = engine.spec.n_layers, engine.spec.d_mlp
    for neurons, words in ((((n_layers, 0),), f"layers 0-{n_layers - 1}"), (((0, d_mlp),), f"units 0-{d_mlp - 1}")):
        path = save_cluster(Cluster(name="bad", neurons=neurons), tmp_path / "bad.json")
        with pytest.raises(ClusterMismatchError, match=words):
            load_cluster(path, engine)


def test_identity_impairments_leave_every_metric_clean(engine, clusters):
    c = clusters["athlete"]
    for mode, x in (("scale", 1.0), ("noise", 0.0), ("negative_noise", 0.0)):
        curves = impairment_curves(engine, c, tiny_prompts(), mode, [x], baseline_seeds=())
        np.testing.assert_allclose(curves.values[:3, :, 0], curves.clean[:3], atol=1e-5)
        assert curves.values[3].max() < 1e-6


def test_zero_mode_equals_scale_zero_and_changes_the_output(engine, clusters):
    c = clusters["company"]
    zero = impairment_curves(engine, c, tiny_prompts(), "zero", [1.0], baseline_seeds=())
    scale0 = impairment_curves(engine, c, tiny_prompts(), "scale", [0.0], baseline_seeds=())
    np.testing.assert_allclose(zero.values, scale0.values, atol=1e-6)
    assert zero.values[3].mean() > 0


def test_noise_curves_are_reproducible_and_baseline_is_measured(engine, clusters):
    evalset = make_eval_set(engine, tiny_prompts())
    calls = []
    kw = dict(seeds=(0, 1), baseline_seeds=(0, 1), samples=2)
    a = impairment_curves(engine, clusters["artist"], evalset, "noise", [0.5, 3.0], progress=lambda d, t: calls.append((d, t)), **kw)
    b = impairment_curves(engine, clusters["artist"], evalset, "noise", [0.5, 3.0], **kw)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.baseline, b.baseline)
    assert calls[-1] == (8, 8)
    assert a.values.shape == a.baseline.shape == (4, 3, 2) and a.n_prompts == (2, 2, 2)
    assert a.specificity("accuracy").shape == (2,)


def test_mean_ablation_runs_with_the_units_means(engine, clusters):
    curves = impairment_curves(engine, clusters["athlete"], tiny_prompts(), "mean", [1.0], baseline_seeds=(0,))
    assert np.isfinite(curves.values).all() and np.isfinite(curves.baseline).all()


def test_clusters_at_mlp_out_and_mlp_in_use_d_model_units(engine):
    d_model = engine.spec.d_model
    for site in ("mlp_out", "mlp_in"):
        found = find_topic_clusters(engine, tiny_prompts(), 10, topics=["athlete"], site=site)["athlete"]
        assert found.site == site and all(u < d_model for _, u in found.neurons)
        curves = impairment_curves(engine, found, tiny_prompts(), "scale", [0.0], baseline_seeds=(0,))
        assert curves.site == site and curves.values[3].mean() > 0


def test_kmeans_groups_are_disjoint_clusters_with_a_topic(engine):
    groups = find_profile_clusters(engine, tiny_prompts(), k=3, method="kmeans")
    assert list(groups) == ["kmeans-0", "kmeans-1", "kmeans-2"]
    units = [set(c.neurons) for c in groups.values()]
    assert sum(map(len, units)) == len(set().union(*units))
    assert all(c.topic in TEMPLATES and c.fingerprint == engine.spec.fingerprint for c in groups.values())
    agglo = find_profile_clusters(engine, tiny_prompts(), k=2, method="agglomerative")
    assert len(agglo) == 2


def test_describe_reports_layers_firing_prompts_and_promoted_tokens(engine, clusters):
    c = clusters["athlete"]
    d = describe_cluster(engine, c, tiny_prompts(), top_k=4, max_units=3)
    assert sum(d.counts) == c.size and len(d.counts) == engine.spec.n_layers
    assert len(d.top_prompts) == 4 and len(d.top_tokens) == 4
    scores = [f.score for f in d.top_prompts]
    assert scores == sorted(scores, reverse=True)
    assert all(f.prompt in {p.prompt for p in tiny_prompts()} for f in d.top_prompts)
    assert [(u.layer, u.unit) for u in d.units] == [n for n, _ in sorted(zip(c.neurons, c.scores), key=lambda p: -p[1])][:3]
    assert all(len(u.tokens) == 4 for u in d.units) and len(d.cluster_tokens) == 4
