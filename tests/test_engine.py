"""Reading a model through the engine: activations obey the transformer's identities."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine import Engine, ModelLoadError

PROMPT = "The founder of Zentrix was born in Marlow."
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def eng(tiny_model_dir, device) -> Engine:
    return Engine.load(tiny_model_dir, device=device)


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()


def test_spec_describes_the_model(eng):
    s = eng.spec
    assert (s.family, s.n_layers, s.n_heads, s.d_model, s.d_head, s.d_mlp, s.d_vocab, s.n_ctx) == (
        "gpt2", 3, 4, 32, 8, 128, 300, 64)
    assert len(s.fingerprint) == 16 and int(s.fingerprint, 16) >= 0


def test_fingerprint_is_stable_across_loads_and_changes_with_weights(tiny_model_dir, eng, tmp_path):
    assert Engine.load(tiny_model_dir).spec.fingerprint == eng.spec.fingerprint
    from tiny_models import save_tiny_model
    other = Engine.load(save_tiny_model("gpt2", tmp_path / "other", seed=1))
    assert other.spec.fingerprint != eng.spec.fingerprint


def test_logits_equal_transformers(eng, hf_model):
    trace = eng.trace(PROMPT)
    with torch.no_grad():
        ref = hf_model(torch.tensor([trace.tokens])).logits[0]
    assert trace.logits.shape == (len(trace.tokens), eng.spec.d_vocab)
    torch.testing.assert_close(trace.logits, ref, atol=1e-5, rtol=0)


def test_residual_stream_boundaries_chain(eng):
    t = eng.trace(PROMPT)
    for layer in range(eng.spec.n_layers - 1):
        assert torch.equal(t.resid_post(layer), t.resid_pre(layer + 1))
    for layer in range(eng.spec.n_layers):
        torch.testing.assert_close(t.resid_mid(layer), t.resid_pre(layer) + t.attn_out(layer))
        torch.testing.assert_close(t.resid_post(layer), t.resid_mid(layer) + t.mlp_out(layer),
                                   atol=1e-6, rtol=0)


def test_head_writes_plus_bias_equal_attn_out(eng):
    t = eng.trace(PROMPT)
    for layer in range(eng.spec.n_layers):
        writes = t.head_writes(layer)
        assert writes.shape == (len(t.tokens), eng.spec.n_heads, eng.spec.d_model)
        torch.testing.assert_close(writes.sum(1) + t.attn_bias(layer), t.attn_out(layer),
                                   atol=1e-5, rtol=0)


def test_neurons_feed_the_mlp_output(eng):
    t = eng.trace(PROMPT)
    bias = eng.model.transformer.h[1].mlp.c_proj.bias
    assert t.neurons(1).shape == (len(t.tokens), eng.spec.d_mlp)
    torch.testing.assert_close(t.neurons(1) @ eng.W_out(1) + bias, t.mlp_out(1), atol=1e-5, rtol=0)
    assert t.mlp_in(1).shape == (len(t.tokens), eng.spec.d_model)


def test_patterns_are_causal_distributions(eng):
    t = eng.trace(PROMPT)
    n = len(t.tokens)
    for layer in range(eng.spec.n_layers):
        p = eng.pattern(PROMPT, layer)
        assert p.shape == (eng.spec.n_heads, n, n)
        torch.testing.assert_close(p.sum(-1), torch.ones(eng.spec.n_heads, n))
        assert torch.all(p.triu(1) == 0)


def test_unembed_of_last_resid_is_the_logits(eng):
    t = eng.trace(PROMPT)
    last = t.resid_post(eng.spec.n_layers - 1)
    torch.testing.assert_close(eng.unembed(last), t.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(eng.unembed(eng.final_norm(last), norm=False), t.logits, atol=1e-5, rtol=0)
    assert eng.W_U.shape == (eng.spec.d_model, eng.spec.d_vocab)
    assert eng.W_E.shape == (eng.spec.d_vocab, eng.spec.d_model)
    assert eng.W_out(0).shape == (eng.spec.d_mlp, eng.spec.d_model)


def test_returned_tensors_are_detached_float32(eng):
    t = eng.trace(PROMPT)
    for x in (t.logits, t.resid_pre(0), t.head_writes(0), t.neurons(0), eng.pattern(PROMPT, 0), eng.W_U):
        assert x.dtype == torch.float32 and not x.requires_grad and x.device.type == "cpu"


def test_trace_is_cached_per_prompt_and_accepts_ids(eng):
    a = eng.trace(PROMPT)
    assert eng.trace(PROMPT) is a
    assert eng.trace(a.tokens) is a


def test_encode_and_token_strs_round_trip(eng):
    ids = eng.encode(PROMPT)
    assert "".join(eng.token_strs(ids)) == PROMPT
    assert eng.tokenizer.decode(ids) == PROMPT


def test_unknown_model_fails_fast_saying_where_it_looked(tmp_path):
    with pytest.raises(ModelLoadError, match="Hugging Face cache"):
        Engine.load("no-such-org/no-such-model-xyz")
    with pytest.raises(ModelLoadError, match="folder"):
        Engine.load(tmp_path)


def test_engine_never_imports_streamlit():
    import subprocess
    import sys
    code = "import sys, engine; sys.exit('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=str(ROOT)).returncode == 0


def test_engine_without_tokenizer_takes_ids(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    eng = Engine(model, tokenizer=None)
    assert eng.trace([1, 2, 3]).logits.shape == (3, 300)
    with pytest.raises(ModelLoadError, match="token ids"):
        eng.encode("hello")


def test_trace_cache_is_a_bounded_lru(tiny_model_dir):
    eng = Engine.load(tiny_model_dir, max_traces=2)
    first = eng.trace("thanks for the helpful post")
    eng.trace("you are a useless idiot")
    assert eng.trace("thanks for the helpful post") is first  # refreshed: now the most recent
    eng.trace("Zentrix is a shipping company")
    assert eng.trace("thanks for the helpful post") is first
    assert eng.trace("you are a useless idiot") is not None  # recomputed after eviction
    from engine.adapter import LRU
    cache = LRU(10, max_bytes=100, size=len)
    for key in "abcd":
        cache.put(key, "x" * 40)
    assert len(cache) == 2 and "d" in cache and "a" not in cache
