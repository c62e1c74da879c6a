"""Every mistake a user can make raises a specific error with the fix in its message."""

from __future__ import annotations

import pytest
import torch

from engine import (Ablate, EmptyPromptError, Engine, Impair, Inject, InterventionError,
                    NonFiniteError, OutOfRangeError, PromptTooLongError, ShapeError)

PROMPT = "Melisande paints in the style of cubism."


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def _hooks_left(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt(eng, prompt):
    with pytest.raises(EmptyPromptError, match="empty"):
        eng.encode(prompt)
    with pytest.raises(EmptyPromptError):
        eng.run(prompt)
    with pytest.raises(EmptyPromptError):
        eng.trace([])


def test_too_long_prompt_is_refused_not_truncated(eng):
    long = "thanks for the helpful post " * 40
    assert len(eng.tokenizer.encode(long)) > eng.spec.n_ctx
    with pytest.raises(PromptTooLongError, match=f"at most {eng.spec.n_ctx}"):
        eng.encode(long)
    with pytest.raises(PromptTooLongError):
        eng.trace(list(range(eng.spec.n_ctx + 1)))


@pytest.mark.parametrize("bad, match", [
    (Impair(layer=3, neurons=(0,)), "layers 0-2"),
    (Impair(layer=-1, neurons=(0,)), "layers 0-2"),
    (Impair(layer=0, neurons=(128,)), "units 0-127"),
    (Impair(layer=0, neurons=(32,), site="mlp_out"), "units 0-31"),
    (Ablate(layer=0, head=4), "heads 0-3"),
    (Inject(layer=5, vector=(0.0,) * 32), "layers 0-2"),
    (Impair(layer=0, neurons=(0,), positions=(99,)), "positions 0-"),
])
def test_out_of_range(eng, bad, match):
    with pytest.raises(OutOfRangeError, match=match):
        eng.run(PROMPT, [bad])
    with pytest.raises(OutOfRangeError):
        eng.trace(PROMPT).resid_pre(7)


@pytest.mark.parametrize("bad, match", [
    (Impair(layer=0, neurons=(0,), mode="blur"), "mode"),
    (Impair(layer=0, neurons=(0,), site="resid"), "site"),
    (Impair(layer=0, neurons=(0, 1), mode="mean", mean=(1.0,)), "one mean value per neuron"),
    (Impair(layer=0, neurons=(0, 0)), "more than once"),
    (Impair(layer=0, neurons=(0,), intensity=float("nan")), "finite"),
    (Inject(layer=0, vector=(1.0,) * 5), "d_model = 32"),
    (Ablate(layer=0, head=0, mode="half"), "mode"),
    ("not an intervention", "Impair, Inject or Ablate"),
])
def test_malformed_interventions(eng, bad, match):
    with pytest.raises(InterventionError, match=match):
        eng.run(PROMPT, [bad])


def test_bad_token_ids_and_shapes(eng):
    with pytest.raises(OutOfRangeError, match="token id"):
        eng.trace([1, 2, 10_000])
    with pytest.raises(ShapeError, match="d_model=32"):
        eng.unembed(torch.zeros(3, 7))
    with pytest.raises(InterventionError, match="samples"):
        eng.run(PROMPT, samples=0)
    with pytest.raises(InterventionError, match="site"):
        eng.run_activations(PROMPT, [], "logits")


def test_non_finite_result_names_the_culprit(eng):
    huge = Impair(layer=1, neurons=tuple(range(64)), mode="scale", intensity=1e38)
    mild = Impair(layer=0, neurons=(1,), mode="scale", intensity=2.0)
    with pytest.raises(NonFiniteError, match="intensity=1e\\+38"):
        eng.run(PROMPT, [mild, huge])
    with pytest.raises(NonFiniteError):
        eng.run_activations(PROMPT, [huge], "resid_post")
    assert _hooks_left(eng.model) == 0


def test_no_hook_remains_after_any_run_even_one_that_raised(eng):
    eng.run(PROMPT, [Impair(layer=1, neurons=(1,), positions="last"), Ablate(layer=0, head=1)])
    eng.run_full(PROMPT, [Inject(layer=2, vector=(1.0,) * 32)])
    eng.run_activations(PROMPT, [Impair(layer=0, neurons=(1,))], "mlp_post")
    assert _hooks_left(eng.model) == 0

    def broken_apply(*args, **kwargs):
        raise RuntimeError("boom")

    from engine import hooks
    original = hooks.ImpairHook.apply
    hooks.ImpairHook.apply = broken_apply
    try:
        with pytest.raises(RuntimeError, match="boom"):
            eng.run(PROMPT, [Impair(layer=1, neurons=(1,))])
    finally:
        hooks.ImpairHook.apply = original
    assert _hooks_left(eng.model) == 0
    torch.testing.assert_close(eng.run(PROMPT).logits[0], eng.trace(PROMPT).logits[-1])
