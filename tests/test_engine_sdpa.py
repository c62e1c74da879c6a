"""The fast attention path (SDPA, a pattern only for the layer asked for) equals eager attention, per family."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine import Ablate, Engine, Impair, Inject
from engine.adapter import patterns_of
from tinystories import TINYSTORIES, requires_tinystories

PROMPT = "The founder of Zentrix was born in Marlow. Tovaren plays tennis."
SITES = ("resid", "attn", "z", "mlp_input", "mlp_hidden", "mlp", "logits")


@pytest.fixture(scope="module")
def pair(tiny_family_dir):
    """(family, folder, fast engine, eager engine) on the same weights."""
    family, folder = tiny_family_dir
    return family, folder, Engine.load(folder), Engine.load(folder, attention="eager")


def test_fast_attention_is_used_where_transformers_has_it(pair):
    family, _, fast, eager = pair
    assert eager.attention == "eager"
    assert fast.attention == ("eager" if family == "gpt_neo" else "sdpa")


def test_trace_and_head_writes_equal_eager(pair):
    _, _, fast, eager = pair
    got, want = fast.trace(PROMPT), eager.trace(PROMPT)
    for site in SITES:
        torch.testing.assert_close(getattr(got, site), getattr(want, site), atol=1e-5, rtol=0, msg=site)
    for layer in range(fast.spec.n_layers):
        torch.testing.assert_close(got.head_writes(layer), want.head_writes(layer), atol=1e-5, rtol=0)
        torch.testing.assert_close(got.keys[layer], want.keys[layer], atol=1e-5, rtol=0)


def test_asked_pattern_equals_transformers_eager_attention(pair):
    _, folder, fast, eager = pair
    hf = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    tokens = fast.encode(PROMPT)
    with torch.no_grad():
        out = hf(torch.tensor([tokens]), output_attentions=True)
    torch.testing.assert_close(fast.trace(PROMPT).logits, out.logits[0], atol=1e-5, rtol=0)
    for layer in range(fast.spec.n_layers):
        want = out.attentions[layer][0]
        assert fast.pattern(PROMPT, layer).shape == (fast.spec.n_heads, len(tokens), len(tokens))
        torch.testing.assert_close(fast.pattern(PROMPT, layer), want, atol=1e-5, rtol=0)
        torch.testing.assert_close(eager.pattern(PROMPT, layer), want, atol=1e-5, rtol=0)


def test_runs_with_interventions_equal_eager(pair):
    _, _, fast, eager = pair
    vector = tuple(torch.randn(fast.spec.d_model, generator=torch.Generator().manual_seed(2)).tolist())
    runs = [[Impair(layer=1, neurons=(1, 4, 9), mode="noise", intensity=2.0, seed=3)],
            [Impair(layer=2, neurons=(0, 5), mode="scale", intensity=-2.0, positions="last")],
            [Inject(layer=0, vector=vector, scale=2.0), Ablate(layer=2, head=3, mode="mean")]]
    for ivs in runs:
        torch.testing.assert_close(fast.run(PROMPT, ivs, samples=2).logits,
                                   eager.run_full(PROMPT, ivs, samples=2).logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(fast.run_activations(PROMPT, ivs, "resid_post"),
                                   eager.run_activations(PROMPT, ivs, "resid_post"), atol=1e-5, rtol=0)
    seqs = [fast.encode(PROMPT), fast.encode("Zentrix is a shipping company")]
    torch.testing.assert_close(fast.attribute(seqs, [3, 5]), eager.attribute(seqs, [3, 5]), atol=1e-5, rtol=0)


def test_the_trace_keeps_no_pattern(pair):
    _, _, fast, _ = pair
    short, long = list(range(10, 26)), list(range(10, 10 + fast.spec.n_ctx))
    ratio = fast.trace(long).nbytes / fast.trace(short).nbytes
    assert ratio < 1.1 * len(long) / len(short)  # grows with the prompt, not with its square


def test_a_pattern_request_stays_in_its_thread(tiny_model_dir):
    eng = Engine.load(tiny_model_dir)
    attn, h = eng.adapter.attn[1], eng.trace(PROMPT).resid_pre(1).unsqueeze(0)
    frame = eng.adapter.frame(0, h.shape[1])
    elsewhere = []
    with torch.no_grad(), patterns_of([attn]):
        here = eng.adapter.attend(1, h, frame)[1]
        thread = threading.Thread(target=lambda: elsewhere.append(eng.adapter.attend(1, h, frame)[1]))
        thread.start()
        thread.join()
    assert here is not None and elsewhere == [None]
    with torch.no_grad():
        assert eng.adapter.attend(1, h, frame)[1] is None  # and nothing is left asking once the call is over




@requires_tinystories
def test_a_real_llama_with_shared_key_heads_equals_eager():
    """TinyStories-656K: 8 query heads share 4 key/value heads, rotary positions, trained weights."""
    eng = Engine.load(str(TINYSTORIES))
    hf = AutoModelForCausalLM.from_pretrained(TINYSTORIES, attn_implementation="eager").eval()
    assert eng.attention == "sdpa" and hf.config.num_key_value_heads < hf.config.num_attention_heads
    prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside."
    with torch.no_grad():
        out = hf(torch.tensor([eng.encode(prompt)]), output_attentions=True)
    torch.testing.assert_close(eng.trace(prompt).logits, out.logits[0], atol=1e-5, rtol=0)
    for layer in range(eng.spec.n_layers):
        torch.testing.assert_close(eng.pattern(prompt, layer), out.attentions[layer][0], atol=1e-5, rtol=0)
