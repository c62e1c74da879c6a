"""WeightDelta: a per-run change of one MLP output matrix, never of the shared model."""

from __future__ import annotations

import copy
import threading

import pytest
import torch

from engine import Engine, Impair, InterventionError, OutOfRangeError, WeightDelta
from engine.adapter import weight_in_out

PROMPT = "Tovaren plays tennis and was born in"


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def _factors(eng: Engine, rank: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(eng.spec.d_mlp, rank, generator=gen),
            torch.randn(rank, eng.spec.d_model, generator=gen) * 0.5)


def _edited_copy(eng: Engine, layer: int, delta: torch.Tensor) -> Engine:
    """An independent engine whose model really has ``W_out + delta`` (the reference)."""
    model = copy.deepcopy(eng.model)
    other = Engine(model, eng.tokenizer)
    module = other.adapter.mlp_o[layer]
    with torch.no_grad():
        stored = module.weight
        stored += delta.T if isinstance(module, torch.nn.Linear) else delta
    assert torch.allclose(weight_in_out(module), eng.W_out(layer) + delta)
    return other


@pytest.mark.parametrize("layer", [0, 2])
def test_delta_run_equals_a_model_with_edited_weights(eng, layer):
    left, right = _factors(eng, rank=2)
    reference = _edited_copy(eng, layer, left @ right)
    delta = WeightDelta.from_factors(layer, left, right)
    want = reference.run(PROMPT).logits
    assert torch.allclose(eng.run(PROMPT, [delta]).logits, want, atol=1e-4, rtol=0)
    assert torch.allclose(eng.run_full(PROMPT, [delta]).logits, want, atol=1e-4, rtol=0)
    acts = eng.run_activations(PROMPT, [delta], "resid_post")
    assert torch.allclose(acts, reference.trace(PROMPT).resid[1:], atol=1e-4, rtol=0)


def test_delta_with_impairment_matches_the_edited_model_impaired(eng):
    left, right = _factors(eng, rank=1, seed=3)
    reference = _edited_copy(eng, 1, left @ right)
    impair = Impair(layer=1, neurons=(0, 3, 5), mode="noise", intensity=2.0, seed=4)
    got = eng.run(PROMPT, [WeightDelta.from_factors(1, left, right), impair], samples=3).logits
    want = reference.run(PROMPT, [impair], samples=3).logits
    assert torch.allclose(got, want, atol=1e-4, rtol=0)


def test_scale_zero_is_the_identity_and_scale_interpolates(eng):
    left, right = _factors(eng, rank=1)
    clean = eng.run(PROMPT).logits
    zero = eng.run(PROMPT, [WeightDelta.from_factors(1, left, right, scale=0.0)]).logits
    assert torch.allclose(zero, clean, atol=1e-5)
    half = eng.run(PROMPT, [WeightDelta.from_factors(1, left, right, scale=0.5)]).logits
    reference = _edited_copy(eng, 1, 0.5 * left @ right)
    assert torch.allclose(half, reference.run(PROMPT).logits, atol=1e-4, rtol=0)


def test_the_shared_weights_never_change_and_no_hook_remains(eng):
    before = eng.W_out(1).clone()
    left, right = _factors(eng, rank=3)
    eng.run(PROMPT, [WeightDelta.from_factors(1, left, right)])
    assert torch.equal(eng.W_out(1), before)
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in eng.model.modules()) == 0


def test_edited_and_unedited_runs_side_by_side_in_two_threads(eng):
    left, right = _factors(eng, rank=2, seed=7)
    delta = WeightDelta.from_factors(2, left, right)
    alone = {"edited": eng.run(PROMPT, [delta]).logits, "clean": eng.run(PROMPT).logits}
    assert not torch.allclose(alone["edited"], alone["clean"], atol=1e-3)
    jobs = {"edited": [delta], "clean": [Impair(layer=0, neurons=(1,), mode="scale", intensity=1.0)]}
    failures: list[str] = []
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        start.wait()
        for i in range(30):
            got = (eng.run if i % 2 else eng.run_full)(PROMPT, jobs[name]).logits
            if not torch.allclose(got, alone[name], atol=1e-4, rtol=0):
                failures.append(f"{name} differed on iteration {i}")

    threads = [threading.Thread(target=worker, args=(name,)) for name in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_bad_deltas_say_how_to_fix_them(eng):
    left, right = _factors(eng, rank=2)
    with pytest.raises(InterventionError, match=r"left \(\d+, 2\)"):
        eng.run(PROMPT, [WeightDelta.from_factors(0, left[:5], right)])
    with pytest.raises(OutOfRangeError, match="layers 0-2"):
        eng.run(PROMPT, [WeightDelta.from_factors(9, left, right)])
    bad = left.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InterventionError, match="NaN"):
        eng.run(PROMPT, [WeightDelta.from_factors(0, bad, right)])


def test_equal_deltas_are_equal_values(eng):
    left, right = _factors(eng, rank=1)
    a, b = WeightDelta.from_factors(1, left, right), WeightDelta.from_factors(1, left.clone(), right.clone())
    assert a == b and hash(a) == hash(b)
    assert a != WeightDelta.from_factors(1, left, right, scale=0.5)
    assert "left" not in repr(a)


def test_every_family_runs_a_delta_as_its_edited_weights_and_trains_an_edit(tiny_family_dir):
    from edit import EditSpec, Fact, apply_edit

    family, path = tiny_family_dir
    eng = Engine.load(path)
    left, right = _factors(eng, rank=2, seed=1)
    reference = _edited_copy(eng, 1, left @ right)
    got = eng.run(PROMPT, [WeightDelta.from_factors(1, left, right)]).logits
    assert torch.allclose(got, reference.run(PROMPT).logits, atol=1e-4, rtol=0), family
    fact = Fact("Tovaren plays tennis and was born in", "Tovaren", " Marlow")
    result = apply_edit(eng, fact, EditSpec(method="low_rank", layer=0, rank=1, steps=30, lr=0.05, target_p=0.5))
    probs = eng.run(fact.prompt, [result.delta]).probs_mean
    new = eng.tokenizer(" Marlow", add_special_tokens=False)["input_ids"][0]
    assert float(probs[new]) == pytest.approx(result.p_trained, abs=1e-3), family
    assert float(probs[new]) > float(eng.run(fact.prompt).probs_mean[new]), family


def test_the_differentiable_run_equals_the_delta_run_and_leaves_the_model_alone(eng):
    from engine import ShapeError

    left, right = _factors(eng, rank=2, seed=5)
    keys = eng.trace(PROMPT).neurons(1)
    change = (keys @ left @ right).requires_grad_()
    logits = eng.mlp_change_logits(PROMPT, 1, change)
    want = eng.run(PROMPT, [WeightDelta.from_factors(1, left, right)]).logits[0]
    assert torch.allclose(logits.detach(), want, atol=1e-4, rtol=0)
    (grad,) = torch.autograd.grad(logits.logsumexp(-1), [change])
    assert grad.shape == change.shape and bool(grad.abs().sum() > 0)
    assert all(p.grad is None for p in eng.model.parameters())
    with pytest.raises(ShapeError, match="pos="):
        eng.mlp_change_logits(PROMPT, 1, change[:-1])
