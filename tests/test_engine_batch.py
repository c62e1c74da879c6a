"""Batched runs: many runs of one prompt in one forward, each equal to the run on its own."""

from __future__ import annotations

import pytest
import torch

from engine import Engine, Impair, NonFiniteError
from test_engine_run import INTERVENTION_SETS, PROMPT


@pytest.fixture(scope="module")
def eng(tiny_model_dir, device) -> Engine:
    return Engine.load(tiny_model_dir, device=device)


def _hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _assert_each_equals_its_own_run(eng, runs, samples, **kwargs):
    batched = eng.run_batch(PROMPT, runs, samples=samples, **kwargs)
    assert len(batched) == len(runs)
    for ivs, got in zip(runs, batched):
        alone = eng.run(PROMPT, ivs, samples=samples)
        torch.testing.assert_close(got.logits, alone.logits, atol=1e-4, rtol=0)
        torch.testing.assert_close(got.probs_std, alone.probs_std, atol=1e-4, rtol=0)


@pytest.mark.parametrize("samples", [1, 3])
def test_mixed_runs_equal_their_own_runs(eng, samples):
    # Every kind of intervention, at different layers, sites and positions, in one batch.
    runs = [INTERVENTION_SETS[name] for name in sorted(INTERVENTION_SETS)]
    _assert_each_equals_its_own_run(eng, runs, samples)


def test_a_sweep_grid_equals_the_loop(eng):
    cluster = (0, 3, 7, 11)
    runs = [[Impair(layer=layer, neurons=cluster, mode=mode, intensity=x, seed=seed)]
            for mode in ("noise", "negative_noise", "scale", "zero") for x in (0.0, 0.5, 2.0)
            for layer in (0, 2) for seed in (0, 1)]
    _assert_each_equals_its_own_run(eng, runs, samples=2)


def test_small_forwards_give_the_same_numbers(eng):
    runs = [[Impair(layer=1, neurons=(1, 2), mode="noise", intensity=x)] for x in (0.5, 1.0, 1.5, 2.0, 2.5)]
    one = eng.run_batch(PROMPT, runs, samples=2)
    chunked = eng.run_batch(PROMPT, runs, samples=2, max_rows=4)
    for a, b in zip(one, chunked):
        torch.testing.assert_close(a.logits, b.logits, atol=1e-4, rtol=0)


def test_a_run_without_interventions_is_the_clean_run(eng):
    clean = eng.trace(PROMPT).logits[-1]
    results = eng.run_batch(PROMPT, [[], INTERVENTION_SETS["noise_mid_all"], []], samples=2)
    for r in (results[0], results[2]):
        torch.testing.assert_close(r.logits, clean.expand(2, -1), atol=1e-5, rtol=0)
    assert not torch.allclose(results[1].logits[0], clean, atol=1e-3)


def test_a_runaway_run_names_its_intervention_and_leaves_no_hook(eng):
    huge = Impair(layer=1, neurons=(1, 2), mode="scale", intensity=1e38)
    with pytest.raises(NonFiniteError, match="1e\\+38"):
        eng.run_batch(PROMPT, [INTERVENTION_SETS["inject_all"], [huge]])
    assert _hooks(eng.model) == 0
    eng.run_batch(PROMPT, [INTERVENTION_SETS["inject_all"]])
    assert _hooks(eng.model) == 0
