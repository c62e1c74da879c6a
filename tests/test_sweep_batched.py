"""Batched sweeps give each cell the number the one-prompt, one-run loop gives (atol 1e-4)."""

from __future__ import annotations

import numpy as np
import pytest

from cluster import find_topic_clusters, impairment_curves, make_eval_set
from cluster.impair import impairs, random_cluster, score
from cluster.inputs import unit_means
from cluster.spec import site_width
from cluster.sweep import SweepSpec as ClusterSweepSpec
from cluster.sweep import point_values
from engine import Engine
from memory.inject import answer_token_id, build_memory, inject_run
from memory.sweep import SweepCase, SweepSpec, case_p_after, sweep_layer_scale
from test_cluster_engine import tiny_prompts


@pytest.fixture(scope="module")
def engine(tiny_model_dir, device) -> Engine:
    return Engine.load(str(tiny_model_dir), device=device)


@pytest.fixture(scope="module")
def athlete(engine):
    return find_topic_clusters(engine, tiny_prompts(), 5, topics=["athlete"])["athlete"]


def _looped(engine, cluster, evalset, point, samples, means):
    kind, mode, x, seed = point
    target = cluster if kind == "cluster" else random_cluster(cluster, site_width(engine.spec, cluster.site), seed)
    return score(engine, evalset, impairs(target, mode, x, seed=seed, means=means), samples=samples)


def test_cluster_sweep_points_equal_the_loop(engine, athlete):
    evalset = make_eval_set(engine, tiny_prompts(), split=None)
    spec = ClusterSweepSpec(modes=("noise", "negative_noise", "scale", "zero", "mean"),
                            intensities=(0.0, 0.7, 2.0), seeds=(0, 1), samples=2)
    means = unit_means(engine, evalset.prompts, athlete.site)
    points = list(spec.points())
    batched = point_values(engine, athlete, evalset, points, spec.samples, means)
    for point, values in zip(points, batched):
        np.testing.assert_allclose(values, _looped(engine, athlete, evalset, point, 2, means), atol=1e-4, rtol=0,
                                   err_msg=str(point))


def test_impairment_curves_equal_the_loop(engine, athlete):
    evalset = make_eval_set(engine, tiny_prompts())
    xs = (0.0, 0.5, 1.5)
    curves = impairment_curves(engine, athlete, evalset, "noise", xs, seeds=(0, 1), baseline_seeds=(2,))
    for j, x in enumerate(xs):
        mean = np.mean([score(engine, evalset, impairs(athlete, "noise", x, seed=s)) for s in (0, 1)], axis=0)
        np.testing.assert_allclose(curves.values[:, :, j], mean, atol=1e-4, rtol=0)
        random = random_cluster(athlete, site_width(engine.spec, athlete.site), 2)
        np.testing.assert_allclose(curves.baseline[:, :, j], score(engine, evalset, impairs(random, "noise", x, seed=2)),
                                   atol=1e-4, rtol=0)


def test_memory_cells_equal_the_loop(engine):
    case = SweepCase(key="0", prompt="The founder of Zentrix was born in", answer=" Marlow", memory=" Tovaren")
    spec = SweepSpec(scales=(0.0, 2.0, 6.0))
    cells = [(layer, scale) for layer in range(engine.spec.n_layers) for scale in spec.scales]
    vector = build_memory(engine, case.memory)
    answer = answer_token_id(engine, case.answer, case.prompt)
    batched = case_p_after(engine, case, cells, spec)
    for (layer, scale), got in zip(cells, batched):
        alone = inject_run(engine, case.prompt, vector, layer, scale).readout(1, answer).target_mean
        assert got == pytest.approx(alone, abs=1e-4)
    sweep = sweep_layer_scale(engine, [case], spec)
    np.testing.assert_allclose(sweep.p_after[0].ravel(), batched, atol=1e-12)
