"""The shipped topic clusters of the demo world do what the app claims (issue 5's science check).

Zeroing a topic's cluster (scale 0) hurts that topic's held-out keyword accuracy
clearly more than the other topics', while random clusters of the same per-layer
counts do not; and noise impairs the model more as its intensity grows.
"""

from __future__ import annotations

import numpy as np
import pytest

from cluster import impairment_curves, load_cluster, make_eval_set
from engine import Engine
from world.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_PROMPTS
from world.prompts import load_keyword_prompts

SHIPPED = ("athlete", "artist", "company", "toxic")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(str(DEMO_DIR))


@pytest.fixture(scope="module")
def evalset(engine):
    return make_eval_set(engine, load_keyword_prompts(DEMO_PROMPTS), "heldout")


@pytest.fixture(scope="module")
def shipped(engine):
    return {t: load_cluster(DEMO_CLUSTERS / f"{t}.json", engine) for t in SHIPPED}


@pytest.mark.parametrize("topic", SHIPPED)
def test_zeroing_a_topic_cluster_is_specific_and_random_clusters_are_not(engine, evalset, shipped, topic):
    curves = impairment_curves(engine, shipped[topic], evalset, "scale", [0.0], baseline_seeds=(0, 1))
    specificity = curves.specificity("accuracy")[0]
    random = curves.specificity("accuracy", baseline=True)[0]
    assert specificity >= 0.3, f"{topic}: specificity {specificity:.3f} (random {random:.3f})"
    assert random < 0.1, f"{topic}: random clusters reach specificity {random:.3f}"


def test_noise_impairs_more_as_intensity_grows(engine, evalset, shipped):
    xs = (1.0, 4.0)
    rise = np.mean([
        impairment_curves(engine, c, evalset, "noise", xs, baseline_seeds=()).drop("loss").mean(axis=0)
        for c in shipped.values()
    ], axis=0)
    # Intensity 0 is the clean model (a rise of 0), so the curve starts from there.
    assert np.all(np.diff([0.0, *rise]) > 0), f"mean loss rise over intensities {xs}: {np.round(rise, 3)}"
