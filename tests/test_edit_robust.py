"""Robustness curves of an edit: edited against learned facts under impairment, random clusters as control."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cluster.spec import load_cluster
from edit import EditSpec, EditSpecError, apply_edit, demo_cases
from edit.score import halving_intensity, learned_items, robustness_curves
from engine import Engine
from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR


@pytest.fixture(scope="module")
def eng() -> Engine:
    return Engine.load(DEMO_DIR)


@pytest.fixture(scope="module")
def edited(eng):
    case = demo_cases(2, seed=0)[1]  # an athlete's sport
    return case, apply_edit(eng, case.fact, EditSpec(method="low_rank", layer=1)).delta


def test_halving_intensity_interpolates_the_first_crossing():
    assert halving_intensity([0, 1, 2, 3], [1.0, 0.8, 0.4, 0.0]) == pytest.approx(1.75)
    assert halving_intensity([1.0, 0.5, 0.0], [0.8, 0.8, 0.4]) == pytest.approx(0.0)
    assert halving_intensity([0, 1], [1.0, 0.9]) == math.inf
    assert math.isnan(halving_intensity([0, 1], [0.0, 0.0]))


def test_curves_start_at_the_clean_answers_and_break_under_heavy_noise(eng, edited):
    case, delta = edited
    calls = []
    curves = robustness_curves(eng, case, delta, load_cluster(DEMO_CLUSTERS / "athlete.json"), "noise",
                               [0.0, 4.0, 40.0], samples=4, baseline_seeds=(0,),
                               progress=lambda d, t: calls.append((d, t)))
    assert curves.edited[0] == 1.0 and curves.learned[0] == 1.0  # clean: the new and the learned answers are top-1
    assert curves.edited[-1] <= 0.25 and curves.learned[-1] <= 0.25
    assert curves.edited_random[0] == 1.0 and curves.learned_random.shape == (3,)
    assert calls[-1] == (12, 12) and len(calls) == 12
    assert 0.0 < curves.halving("edited") < 40.0


def test_learned_curves_can_be_reused_and_do_not_depend_on_the_edit(eng, edited):
    case, delta = edited
    cluster = load_cluster(DEMO_CLUSTERS / "athlete.json")
    args = (cluster, "scale", [1.0, 0.5, 0.0])
    first = robustness_curves(eng, case, delta, *args, samples=1, baseline_seeds=(0,))
    again = robustness_curves(eng, case, delta, *args, samples=1, baseline_seeds=(0,),
                              learned=(first.learned, first.learned_random))
    np.testing.assert_array_equal(again.edited, first.edited)
    np.testing.assert_array_equal(again.learned, first.learned)
    assert len(learned_items(eng, case)) == 1 + len(case.neighbours)


def test_ungraded_modes_are_refused(eng, edited):
    case, delta = edited
    with pytest.raises(EditSpecError, match="graded mode"):
        robustness_curves(eng, case, delta, load_cluster(DEMO_CLUSTERS / "athlete.json"), "zero", [0.0])
