"""The shipped topic clusters of the demo world do what the README claims (issue 11's science check).

The clusters are 3% of all MLP units, allocated across layers by attribution on the train prompts
(each topic's answers weighed alike) and grown in 4 rounds, each recomputed with the units before
it zeroed. Zeroing a cluster (scale 0) hurts its own topic's held-out keyword accuracy (other
entities and keywords than train) more than the other topics', by what the README claims, while
random clusters of the same per-layer counts, drawn from all units, do nothing; the toxic cluster
is claimed to fall short of 0.3, and that is checked too. Noise impairs the model more as its
intensity grows.
"""

from __future__ import annotations

import numpy as np
import pytest

from cluster import impairment_curves, load_cluster, make_eval_set
from engine import Engine
from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_PROMPTS
from promptsets.schema import load_keyword_prompts

SHIPPED = ("athlete", "artist", "company", "toxic")
# Held-out specificity the README quotes for each shipped cluster, rounded down (bench/cluster.py --clusters).
CLAIMED = {"athlete": 0.9, "artist": 0.7, "company": 0.45, "toxic": -0.05}
FALLS_SHORT = {"toxic": 0.3}  # the README says these do not reach this specificity


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(str(DEMO_DIR))


@pytest.fixture(scope="module")
def evalset(engine):
    return make_eval_set(engine, load_keyword_prompts(DEMO_PROMPTS), "heldout")


@pytest.fixture(scope="module")
def shipped(engine):
    return {t: load_cluster(DEMO_CLUSTERS / f"{t}.json", engine) for t in SHIPPED}


def test_shipped_clusters_are_at_most_3_percent_of_all_units_by_attribution(engine, shipped):
    for cluster in shipped.values():
        assert cluster.method == "attribution" and cluster.prompt_set.endswith(":train")
        assert "grown in 4 rounds" in cluster.detail and "allocated across layers" in cluster.detail
        assert sum(cluster.counts(engine.spec.n_layers)) <= 0.03 * engine.spec.n_layers * engine.spec.d_mlp


@pytest.mark.parametrize("topic", SHIPPED)
def test_zeroing_a_topic_cluster_is_as_specific_as_claimed_and_random_clusters_are_not(engine, evalset, shipped, topic):
    curves = impairment_curves(engine, shipped[topic], evalset, "scale", [0.0], baseline_seeds=(0, 1, 2))
    specificity = curves.specificity("accuracy")[0]
    random = curves.specificity("accuracy", baseline=True)[0]
    assert specificity >= CLAIMED.get(topic, 0.0), f"{topic}: specificity {specificity:.3f} (random {random:.3f})"
    assert specificity < FALLS_SHORT.get(topic, float("inf")), f"{topic} reaches {specificity:.3f}: update the README"
    assert abs(random) <= 0.05, f"{topic}: random clusters reach specificity {random:.3f}"


def test_noise_impairs_more_as_intensity_grows(engine, evalset, shipped):
    xs = (1.0, 4.0)
    rise = np.mean([
        impairment_curves(engine, c, evalset, "noise", xs, baseline_seeds=()).drop("loss").mean(axis=0)
        for c in shipped.values()
    ], axis=0)
    # Intensity 0 is the clean model (a rise of 0), so the curve starts from there.
    assert np.all(np.diff([0.0, *rise]) > 0), f"mean loss rise over intensities {xs}: {np.round(rise, 3)}"
