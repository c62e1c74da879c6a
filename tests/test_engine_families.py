"""Every supported family, through its adapter, against the plain transformers forward."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine import Ablate, Engine, Impair, Inject

PROMPT = "The founder of Zentrix was born in Marlow."


@pytest.fixture(scope="module")
def family_eng(tiny_family_dir, device):
    family, folder = tiny_family_dir
    return family, folder, Engine.load(folder, device=device)


def test_logits_equal_transformers(family_eng):
    family, folder, eng = family_eng
    assert eng.spec.family == family and eng.spec.n_layers == 3 and eng.spec.n_heads == 4
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    trace = eng.trace(PROMPT)
    with torch.no_grad():
        ref = hf(torch.tensor([trace.tokens])).logits[0]
    torch.testing.assert_close(trace.logits, ref, atol=1e-5, rtol=0)


def test_reading_identities(family_eng):
    _, _, eng = family_eng
    t = eng.trace(PROMPT)
    n = len(t.tokens)
    for layer in range(eng.spec.n_layers):
        torch.testing.assert_close(t.head_writes(layer).sum(1) + t.attn_bias(layer), t.attn_out(layer),
                                   atol=1e-5, rtol=0)
        torch.testing.assert_close(t.resid_mid(layer), t.resid_pre(layer) + t.attn_out(layer))
        torch.testing.assert_close(t.resid_post(layer), t.resid_mid(layer) + t.mlp_out(layer),
                                   atol=1e-5, rtol=0)
        assert t.neurons(layer).shape == (n, eng.spec.d_mlp)
        torch.testing.assert_close(eng.pattern(PROMPT, layer).sum(-1), torch.ones(eng.spec.n_heads, n))
    torch.testing.assert_close(eng.unembed(t.resid_post(eng.spec.n_layers - 1)), t.logits,
                               atol=1e-5, rtol=0)


def _interventions(eng):
    vector = tuple(torch.randn(eng.spec.d_model, generator=torch.Generator().manual_seed(1)).tolist())
    return {
        "middle_all": [Impair(layer=1, neurons=(1, 4, 9), mode="noise", intensity=2.0, seed=3)],
        "middle_last": [Impair(layer=1, neurons=(1, 4, 9), mode="noise", intensity=2.0, positions="last")],
        "inject_ablate": [Inject(layer=0, vector=vector, scale=2.0), Ablate(layer=2, head=3, mode="mean")],
        "mlp_in_last_layer": [Impair(layer=2, neurons=(0, 5), mode="scale", intensity=-2.0, site="mlp_in")],
    }


@pytest.mark.parametrize("name", ["middle_all", "middle_last", "inject_ablate", "mlp_in_last_layer"])
def test_prefix_cache_equals_full_forward(family_eng, name):
    _, _, eng = family_eng
    ivs = _interventions(eng)[name]
    fast, full = eng.run(PROMPT, ivs, samples=2), eng.run_full(PROMPT, ivs, samples=2)
    torch.testing.assert_close(fast.logits, full.logits, atol=1e-4, rtol=0)
    assert not torch.allclose(fast.logits[0], fast.clean_logits, atol=1e-5)


def _sliding(family: str):
    from tiny_models import tiny_config
    config = tiny_config(family)
    config.sliding_window = 4
    if family == "qwen2":
        config.use_sliding_window = True
        config.layer_types = ["full_attention", "sliding_attention", "sliding_attention"]
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.mark.parametrize("family", ["mistral", "qwen2"])
def test_sliding_window_attention_matches_transformers(family):
    model = _sliding(family)
    tokens = list(range(3, 40, 3))
    with torch.no_grad():
        ref = model(torch.tensor([tokens])).logits[0]
    eng = Engine(model, tokenizer=None, name=f"sliding-{family}")
    trace = eng.trace(tokens)
    torch.testing.assert_close(trace.logits, ref, atol=1e-5, rtol=0)
    assert torch.all(eng.pattern(tokens, 1)[:, -1, : len(tokens) - 4] == 0)
    ivs = [Impair(layer=1, neurons=(2, 3), mode="noise", intensity=3.0, positions="last")]
    torch.testing.assert_close(eng.run(tokens, ivs).logits, eng.run_full(tokens, ivs).logits, atol=1e-4, rtol=0)


def test_gpt_neox_without_parallel_residual():
    from tiny_models import tiny_config
    config = tiny_config("gpt_neox")
    config.use_parallel_residual = False
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    tokens = [5, 17, 42, 8, 99, 3, 250]
    with torch.no_grad():
        ref = model(torch.tensor([tokens])).logits[0]
    eng = Engine(model, tokenizer=None)
    torch.testing.assert_close(eng.trace(tokens).logits, ref, atol=1e-5, rtol=0)
    ivs = [Impair(layer=1, neurons=(2, 3), mode="scale", intensity=3.0, site="mlp_out")]
    torch.testing.assert_close(eng.run(tokens, ivs).logits, eng.run_full(tokens, ivs).logits, atol=1e-4, rtol=0)
