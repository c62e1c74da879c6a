"""The one next-token readout (and the one gain) that the pages, sweeps and metrics share."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import Engine, Impair
from engine.readout import gain_ratio, read_next_token

PROMPT = "Tovaren plays tennis and was born in"


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


def test_readout_matches_the_run_it_reads(eng):
    run = eng.run(PROMPT, [Impair(layer=1, neurons=tuple(range(20)), mode="noise", intensity=3.0)], samples=8)
    target = int(run.clean_logits.argsort()[-3])
    r = run.readout(k=5, target_id=target)
    probs = torch.softmax(run.logits.double(), -1)
    clean = torch.softmax(run.clean_logits.double(), -1)
    np.testing.assert_allclose(r.mean, run.probs_mean[r.ids].numpy(), atol=1e-6)
    np.testing.assert_allclose(r.std, run.probs_std[r.ids].numpy(), atol=1e-6)  # sample std, n - 1
    np.testing.assert_allclose(r.std, probs.std(0, correction=1)[r.ids].numpy(), rtol=1e-9)
    expected_kl = (clean * (clean.log() - probs.log())).sum(-1).mean()
    assert r.kl == pytest.approx(float(expected_kl), rel=1e-9) and r.kl > 0
    assert r.target_clean == pytest.approx(float(clean[target])) and r.rank_clean == 3
    assert r.target_mean == pytest.approx(float(probs[:, target].mean()))
    assert r.target_loss == pytest.approx(float(-probs[:, target].log().mean()))
    assert r.target_top1 == float((run.logits.argmax(-1) == target).double().mean())
    both = np.maximum(r.clean, r.mean)
    assert list(both) == sorted(both, reverse=True) and r.samples == 8


def test_a_clean_run_reads_as_clean(eng):
    r = eng.run(PROMPT).readout(k=3)
    assert r.kl == 0.0 and r.rank_clean == r.rank_mean == 1
    assert r.target_id == r.ids[0] and r.target_top1 == 1.0
    np.testing.assert_array_equal(r.std, 0.0)
    np.testing.assert_allclose(r.mean, r.clean)


def test_ties_keep_the_lower_id_first():
    r = read_next_token(torch.zeros(1, 6), torch.zeros(6), k=4)
    assert list(r.ids) == [0, 1, 2, 3] and r.rank_clean == 1


def test_gain_is_one_ratio_everywhere():
    assert gain_ratio(0.1, 0.4) == pytest.approx(4.0)
    assert gain_ratio(0.0, 0.0) == 1.0 and math.isinf(gain_ratio(0.0, 0.2))
    np.testing.assert_allclose(gain_ratio(np.array([[0.5], [0.0]]), np.array([[0.25, 1.0], [0.0, 0.0]])),
                               [[0.5, 2.0], [1.0, 1.0]])
