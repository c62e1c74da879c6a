"""Batched runs: many runs of one prompt in one forward, each equal to the run on its own."""

from __future__ import annotations

import pytest
import torch

from engine import Ablate, Engine, Impair, Inject, NonFiniteError, Patch, WeightDelta
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


def _every_kind(eng) -> dict[str, list]:
    """One run per kind of intervention (Impair in each mode and site, Inject, Ablate, WeightDelta, Patch),
    and a few runs that mix kinds at one layer."""
    spec = eng.spec
    gen = torch.Generator().manual_seed(0)
    n_pos = len(eng.encode(PROMPT))
    other = eng.trace("Melisande paints in the style of cubism.")
    units = (0, 3, 7, 11)
    runs: dict[str, list] = {}
    for site in ("mlp_post", "mlp_in", "mlp_out"):
        for mode in ("noise", "negative_noise", "scale", "zero", "mean"):
            mean = tuple(torch.randn(len(units), generator=gen).tolist()) if mode == "mean" else None
            runs[f"impair_{mode}_{site}"] = [Impair(layer=1, neurons=units, mode=mode, intensity=2.5, site=site,
                                                    mean=mean, seed=3)]
    runs["impair_last_position"] = [Impair(layer=2, neurons=units, mode="noise", intensity=2.0, positions="last")]
    runs["impair_some_positions"] = [Impair(layer=0, neurons=units, mode="scale", intensity=3.0, positions=(1, -2))]
    vector = tuple(torch.randn(spec.d_model, generator=gen).tolist())
    runs["inject"] = [Inject(layer=1, vector=vector, scale=2.0)]
    runs["inject_last"] = [Inject(layer=2, vector=vector, positions="last")]
    runs["ablate_zero"] = [Ablate(layer=0, head=1)]
    runs["ablate_mean"] = [Ablate(layer=2, head=3, mode="mean")]
    left = torch.randn(spec.d_mlp, 2, generator=gen)
    right = torch.randn(2, spec.d_model, generator=gen)
    delta = WeightDelta.from_factors(1, left, right, scale=0.5)
    runs["weight_delta"] = [delta]
    runs["weight_delta_last_layer"] = [WeightDelta.from_factors(2, left, right, scale=-0.3)]
    runs["weight_delta_reads_impaired_neurons"] = [Impair(layer=1, neurons=units, mode="zero"), delta]
    positions = (1, n_pos - 2)
    # The other prompt's activations at its first positions, put at this prompt's positions.
    runs["patch_resid_pre"] = [Patch.from_tensor(1, "resid_pre", positions, other.resid[1][:2])]
    runs["patch_head"] = [Patch.from_tensor(0, "head", positions, other.z[0][:2, 2], head=2)]
    runs["patch_mlp_out"] = [Patch.from_tensor(2, "mlp_out", (n_pos - 1,), other.mlp[2][-1:])]
    runs["every_kind_at_once"] = [Ablate(layer=0, head=0, mode="mean"), Inject(layer=0, vector=vector),
                                  delta, Impair(layer=2, neurons=units, mode="noise", intensity=1.5)]
    return runs


@pytest.mark.parametrize("samples", [1, 2])
def test_every_kind_of_intervention_batches_like_its_own_run(eng, samples):
    """run_batch takes every intervention run takes (a weight delta too), and each row equals its own run."""
    runs = _every_kind(eng)
    batched = eng.run_batch(PROMPT, list(runs.values()), samples=samples)
    clean = eng.trace(PROMPT).logits[-1]
    for (name, ivs), got in zip(runs.items(), batched):
        alone = eng.run(PROMPT, ivs, samples=samples)
        assert got.logits.shape == alone.logits.shape, name
        torch.testing.assert_close(got.logits, alone.logits, atol=1e-5, rtol=0, msg=name)
        torch.testing.assert_close(got.probs_std, alone.probs_std, atol=1e-5, rtol=0, msg=name)
        if "scale" not in name:  # scale 2.5 of a few units may move little; every other run must move
            assert not torch.allclose(got.logits[0], clean, atol=1e-4), f"{name} left the prediction as it was"
    assert _hooks(eng.model) == 0
