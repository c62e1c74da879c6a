"""Runs with interventions: identities, seeded noise, and the prefix cache against full forwards."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine import Ablate, Engine, Impair, Inject
from engine.hooks import draw_eps

PROMPT = "Zentrix is a shipping company based in Quarry."


@pytest.fixture(scope="module")
def eng(tiny_model_dir, device) -> Engine:
    return Engine.load(tiny_model_dir, device=device)


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="eager").eval()


def _ref_last_logits(hf_model, tokens, hooks) -> torch.Tensor:
    """Plain transformers forward with our own hooks: ``hooks`` is [(module, pre, fn)]."""
    handles = []
    try:
        for module, pre, fn in hooks:
            handles.append(module.register_forward_pre_hook(fn) if pre else module.register_forward_hook(fn))
        with torch.no_grad():
            return hf_model(torch.tensor([tokens])).logits[0, -1]
    finally:
        for h in handles:
            h.remove()


def test_no_interventions_equals_plain_forward(eng, hf_model):
    tokens = eng.encode(PROMPT)
    result = eng.run(PROMPT, samples=3)
    ref = _ref_last_logits(hf_model, tokens, [])
    assert result.logits.shape == (3, eng.spec.d_vocab)
    torch.testing.assert_close(result.logits[0], ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(result.clean_logits, ref, atol=1e-5, rtol=0)
    assert torch.all(result.probs_std == 0)


@pytest.mark.parametrize("site", ["mlp_post", "mlp_in", "mlp_out"])
def test_scale_one_is_the_identity(eng, site):
    clean = eng.trace(PROMPT).logits[-1]
    result = eng.run(PROMPT, [Impair(layer=1, neurons=(0, 3, 7), mode="scale", intensity=1.0, site=site)])
    torch.testing.assert_close(result.logits[0], clean, atol=1e-5, rtol=0)


def test_inject_scale_zero_is_the_identity(eng):
    clean = eng.trace(PROMPT).logits[-1]
    vector = tuple(torch.randn(eng.spec.d_model).tolist())
    result = eng.run(PROMPT, [Inject(layer=1, vector=vector, scale=0.0)])
    torch.testing.assert_close(result.logits[0], clean, atol=1e-5, rtol=0)


def test_scale_matches_an_independent_hook(eng, hf_model):
    neurons = (2, 5, 11)

    def halve(module, args):
        x = args[0].clone()
        x[..., list(neurons)] *= 0.5
        return (x,)

    ref = _ref_last_logits(hf_model, eng.encode(PROMPT), [(hf_model.transformer.h[1].mlp.c_proj, True, halve)])
    result = eng.run(PROMPT, [Impair(layer=1, neurons=neurons, mode="scale", intensity=0.5)])
    torch.testing.assert_close(result.logits[0], ref, atol=1e-5, rtol=0)


def test_noise_matches_an_independent_hook(eng, hf_model):
    tokens = eng.encode(PROMPT)
    neurons = (4, 9)
    eps = draw_eps(7, 0, "mlp_post", 1, len(tokens), len(neurons))[0]

    def add_noise(module, args):
        x = args[0].clone()
        x[0, :, list(neurons)] += 3.0 * eps
        return (x,)

    ref = _ref_last_logits(hf_model, tokens, [(hf_model.transformer.h[0].mlp.c_proj, True, add_noise)])
    result = eng.run(PROMPT, [Impair(layer=0, neurons=neurons, mode="noise", intensity=3.0, seed=7)])
    torch.testing.assert_close(result.logits[0], ref, atol=1e-5, rtol=0)


def test_inject_and_ablate_match_independent_hooks(eng, hf_model):
    vector = torch.randn(eng.spec.d_model)
    d_head = eng.spec.d_head

    def inject(module, args, output):
        return (output[0] + 2.0 * vector,) + output[1:]

    def ablate(module, args):
        z = args[0].clone()
        z[..., 3 * d_head: 4 * d_head] = z[..., 3 * d_head: 4 * d_head].mean(dim=1, keepdim=True)
        return (z,)

    hooks = [(hf_model.transformer.h[0].attn, False, inject),
             (hf_model.transformer.h[2].attn.c_proj, True, ablate)]
    ref = _ref_last_logits(hf_model, eng.encode(PROMPT), hooks)
    result = eng.run(PROMPT, [Inject(layer=0, vector=tuple(vector.tolist()), scale=2.0),
                              Ablate(layer=2, head=3, mode="mean")])
    torch.testing.assert_close(result.logits[0], ref, atol=1e-5, rtol=0)


def test_zero_ablating_a_head_removes_its_write(eng):
    acts = eng.run_activations(PROMPT, [Ablate(layer=1, head=2)], "attn_out")
    t = eng.trace(PROMPT)
    expected = t.attn_out(1) - t.head_writes(1)[:, 2]
    torch.testing.assert_close(acts[1], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(acts[0], t.attn_out(0))


def test_same_seed_same_numbers_other_seed_other_numbers(eng):
    imp = Impair(layer=1, neurons=(1, 2, 3, 4), mode="noise", intensity=2.0, seed=11)
    a, b = eng.run(PROMPT, [imp], samples=4), eng.run(PROMPT, [imp], samples=4)
    assert torch.equal(a.logits, b.logits)
    c = eng.run(PROMPT, [Impair(**{**imp.__dict__, "seed": 12})], samples=4)
    assert not torch.allclose(a.logits, c.logits)


def test_samples_differ_and_summarise(eng):
    imp = Impair(layer=0, neurons=tuple(range(20)), mode="noise", intensity=2.0, seed=1)
    result = eng.run(PROMPT, [imp], samples=8)
    assert result.logits.shape == (8, eng.spec.d_vocab)
    assert len({tuple(row.tolist()) for row in result.logits}) == 8
    probs = torch.softmax(result.logits, dim=-1)
    torch.testing.assert_close(result.probs_mean, probs.mean(0))
    torch.testing.assert_close(result.probs_std, probs.std(0))
    torch.testing.assert_close(result.probs_mean.sum(), torch.tensor(1.0))
    one = eng.run(PROMPT, [imp], samples=1)
    torch.testing.assert_close(one.logits[0], result.logits[0], atol=1e-5, rtol=0)


def test_negative_noise_only_lowers_and_touches_the_max_once(eng):
    imp = Impair(layer=1, neurons=tuple(range(10)), mode="negative_noise", intensity=1.5, seed=2)
    delta = eng.run_activations(PROMPT, [imp], "mlp_post")[1] - eng.trace(PROMPT).neurons(1)
    impaired = delta[:, :10]
    assert impaired.max().abs() < 1e-5 and impaired.min() < -1.0
    assert torch.all(delta[:, 10:] == 0)


VECTOR = tuple(torch.randn(32, generator=torch.Generator().manual_seed(0)).tolist())

INTERVENTION_SETS = {
    "noise_mid_all": [Impair(layer=1, neurons=(1, 5, 9), mode="noise", intensity=2.0, seed=4)],
    "negnoise_mid_all_mlp_in": [Impair(layer=1, neurons=(0, 1, 2), mode="negative_noise", intensity=2.0,
                                       site="mlp_in")],
    "noise_last_only": [Impair(layer=1, neurons=(1, 5, 9), mode="noise", intensity=2.0, positions="last")],
    "scale_last_only_by_index": [Impair(layer=0, neurons=(3,), mode="scale", intensity=3.0, positions=(-1,))],
    "zero_some_positions": [Impair(layer=1, neurons=(2, 8), mode="zero", positions=(0, 2, -2))],
    "noise_mlp_out_alone": [Impair(layer=1, neurons=(2, 3), mode="noise", intensity=2.0, site="mlp_out")],
    "mean_mlp_out": [Impair(layer=2, neurons=(1, 2), mode="mean", mean=(0.5, -0.5), site="mlp_out")],
    "inject_all": [Inject(layer=1, vector=VECTOR, scale=2.0)],
    "inject_last": [Inject(layer=2, vector=VECTOR, scale=2.0, positions="last")],
    "ablate_and_noise": [Ablate(layer=0, head=1, mode="mean"),
                         Impair(layer=2, neurons=(4,), mode="noise", positions="last")],
    "ablate_last_layer_zero": [Ablate(layer=2, head=0)],
    "noise_from_the_middle_of_the_prompt": [Impair(layer=0, neurons=(1, 2), mode="noise", positions=(4, 6))],
    "inject_third_from_end": [Inject(layer=1, vector=VECTOR, scale=2.0, positions=(-3,))],
    "post_and_out_same_layer": [Impair(layer=1, neurons=(1, 2), mode="scale", intensity=3.0),
                                Impair(layer=1, neurons=(2, 3), mode="noise", site="mlp_out"),
                                Impair(layer=1, neurons=(2, 5), mode="zero")],
    "mlp_post_last_layer": [Impair(layer=2, neurons=tuple(range(0, 128, 3)), mode="noise", intensity=3.0)],
    "mlp_in_first_layer_last_pos": [Impair(layer=0, neurons=(0, 1, 2), mode="noise", site="mlp_in",
                                           intensity=3.0, positions="last")],
}


@pytest.mark.parametrize("name", sorted(INTERVENTION_SETS))
def test_prefix_cache_equals_full_forward(eng, name):
    ivs = INTERVENTION_SETS[name]
    fast, full = eng.run(PROMPT, ivs, samples=3), eng.run_full(PROMPT, ivs, samples=3)
    torch.testing.assert_close(fast.logits, full.logits, atol=1e-4, rtol=0)
    assert not torch.allclose(fast.logits[0], fast.clean_logits, atol=1e-4)


def test_single_token_prompt(eng):
    ids = eng.encode("Z")[:1]
    ivs = [Impair(layer=1, neurons=(1,), mode="noise", intensity=2.0, positions="last")]
    torch.testing.assert_close(eng.run(ids, ivs).logits, eng.run_full(ids, ivs).logits, atol=1e-4, rtol=0)


def test_run_activations_before_the_intervention_are_clean(eng):
    imp = Impair(layer=1, neurons=(1, 2), mode="scale", intensity=4.0)
    t = eng.trace(PROMPT)
    for site in ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_in", "mlp_post", "mlp_out"):
        acts = eng.run_activations(PROMPT, [imp], site)
        assert acts.shape[:2] == (eng.spec.n_layers, len(t.tokens))
        torch.testing.assert_close(acts[0], t.stack(site)[0])
    post = eng.run_activations(PROMPT, [imp], "mlp_post")
    torch.testing.assert_close(post[1, :, 1:3], 4.0 * t.neurons(1)[:, 1:3], atol=1e-5, rtol=0)
    resid = eng.run_activations(PROMPT, [imp], "resid_post")
    assert not torch.allclose(resid[2], t.resid_post(2))


def test_interventions_that_touch_nothing_change_nothing(eng):
    clean = eng.trace(PROMPT).logits[-1]
    for iv in (Impair(layer=1, neurons=(), mode="zero"), Impair(layer=1, neurons=(3,), positions=()),
               Impair(layer=0, neurons=(3,), mode="noise", intensity=0.0)):
        torch.testing.assert_close(eng.run(PROMPT, [iv], samples=2).logits[1], clean, atol=1e-5, rtol=0)
