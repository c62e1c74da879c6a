"""Every feature on the demo in bfloat16 and float16 (on the CPU, standing in for a GPU): it runs, hands back
CPU float32, and says what the float32 engine says up to the lower precision's rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compare import cka_clean_vs_impaired
from edit import EditSpec, apply_edit, demo_cases, heldout_texts, score_edit
from edit.spec import answer_token_id
from engine import Engine, Impair, Inject
from lens import decode_heads, decode_logit_lens, load_lenses
from memory import InjectionSpec, inject_memory
from promptsets.paths import DEMO_DIR

PROMPT = "Dadon plays"
KEY_TEXTS = tuple((DEMO_DIR / "corpus.txt").read_text(encoding="utf-8").splitlines()[:40])
IMPAIR = Impair(layer=1, neurons=tuple(range(0, 64, 3)), mode="noise", intensity=2.0, seed=5)


@pytest.fixture(scope="module")
def f32() -> Engine:
    return Engine.load(DEMO_DIR)


@pytest.fixture(scope="module", params=["bfloat16", "float16"])
def bf16(request) -> Engine:
    """The demo in a lower precision (bfloat16, the GPU default, and float16)."""
    eng = Engine.load(DEMO_DIR, dtype=request.param)
    assert eng.dtype == getattr(torch, request.param) and eng.spec.dtype == request.param
    return eng


def _close_logits(got: torch.Tensor, want: torch.Tensor) -> None:
    """bfloat16 keeps about 3 significant digits: logits within 5% of their range, the same top-1."""
    assert got.dtype == torch.float32 and got.device.type == "cpu" and torch.isfinite(got).all()
    assert (got - want).abs().max() < 0.05 * want.abs().max()
    assert int(got.reshape(-1, got.shape[-1])[-1].argmax()) == int(want.reshape(-1, want.shape[-1])[-1].argmax())


def test_trace_reads_like_float32(f32, bf16):
    got, want = bf16.trace(PROMPT), f32.trace(PROMPT)
    _close_logits(got.logits, want.logits)
    assert got.resid.dtype == torch.float32
    for layer in range(bf16.spec.n_layers):
        torch.testing.assert_close(got.head_writes(layer).sum(1) + got.attn_bias(layer), got.attn_out(layer),
                                   atol=0.05, rtol=0.02)
    pattern = bf16.pattern(PROMPT, 1)
    assert pattern.dtype == torch.float32
    assert (pattern - f32.pattern(PROMPT, 1)).abs().max() < 0.02


def test_lens_decoding_agrees(f32, bf16):
    lenses = load_lenses(DEMO_DIR / "lenses", bf16)
    got = decode_heads(bf16, lenses, PROMPT, k=3, target=" rugby")
    want = decode_heads(f32, load_lenses(DEMO_DIR / "lenses", f32), PROMPT, k=3, target=" rugby")
    assert np.isfinite(got.top_probs).all() and np.abs(got.target_prob - want.target_prob).max() < 0.05
    logit = decode_logit_lens(bf16, PROMPT, k=3, target=" rugby")
    assert logit.top_strs[-1, -1, 0] == decode_logit_lens(f32, PROMPT, k=3).top_strs[-1, -1, 0] == " rugby"


def test_impair_run_and_batch(f32, bf16):
    got, want = bf16.run(PROMPT, [IMPAIR], samples=3), f32.run(PROMPT, [IMPAIR], samples=3)
    _close_logits(got.logits, want.logits)
    batch = bf16.run_batch(PROMPT, [[IMPAIR], [Impair(layer=2, neurons=(1, 2), mode="zero")]], samples=3)
    torch.testing.assert_close(batch[0].logits, got.logits, atol=0.05, rtol=0)


def test_memory_injection(f32, bf16):
    spec = InjectionSpec(memory=" cycling", layer=1, scale=3.0)
    got, want = inject_memory(bf16, PROMPT, " cycling", spec), inject_memory(f32, PROMPT, " cycling", spec)
    assert got.p_after > got.p_before
    assert got.p_after == pytest.approx(want.p_after, abs=0.05)
    vector = tuple(float(v) for v in f32.W_U[:, 7])
    _close_logits(bf16.run(PROMPT, [Inject(layer=2, vector=vector)]).logits,
                  f32.run(PROMPT, [Inject(layer=2, vector=vector)]).logits)


def test_attribution_and_capture(f32, bf16):
    seqs = [bf16.encode(PROMPT), bf16.encode("Tovaren was born in")]
    target = [answer_token_id(bf16, " rugby", PROMPT)] * 2
    got, want = bf16.attribute(seqs, target), f32.attribute(seqs, target)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    top = want[0].flatten().abs().topk(20).indices
    assert len(set(got[0].flatten().abs().topk(20).indices.tolist()) & set(top.tolist())) >= 10
    captured = bf16.capture(seqs, layers=[1], sites=("resid_post",))
    got_resid = captured.at("resid_post", 1)[: len(seqs[0])]
    assert got_resid.dtype == torch.float32
    torch.testing.assert_close(got_resid, f32.trace(PROMPT).resid_post(1), atol=0.1, rtol=0.05)


@pytest.mark.parametrize("method", ["rank_one", "low_rank", "finetune", "interp"])
def test_every_edit_method_applies_and_scores(bf16, method):
    case = demo_cases(2, seed=0)[1]
    weights = [p.detach().clone() for p in bf16.model.parameters()]
    result = apply_edit(bf16, case.fact, EditSpec(method=method, layer=1, rank=2), KEY_TEXTS)
    scores = score_edit(bf16, case, result.delta, heldout_texts(4))
    assert scores.efficacy_p > scores.rows[0].p_before and scores.efficacy_p > 0.3
    assert np.isfinite(scores.damage) and 0 <= scores.specificity <= 1
    assert all(torch.equal(a, b) for a, b in zip(weights, bf16.model.parameters()))
    assert bf16.run(case.fact.prompt).logits.argmax() == answer_token_id(bf16, case.fact.answer, case.fact.prompt)


def test_cka_clean_against_impaired(f32, bf16):
    prompts = [PROMPT, "Tovaren was born in"]
    got, want = cka_clean_vs_impaired(bf16, prompts, [IMPAIR]), cka_clean_vs_impaired(f32, prompts, [IMPAIR])
    assert np.isfinite(got.cka).all() and np.abs(got.cka - want.cka).max() < 0.05
    assert got.cka[0] == pytest.approx(1.0, abs=1e-3) and got.cka[-1] < 0.999


def test_the_edit_command_takes_a_dtype():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "edit", "apply", "--model", str(DEMO_DIR), "--prompt", PROMPT,
                          "--subject", "Dadon", "--new", " cycling", "--dtype", "bfloat16", "--device", "cpu",
                          "--heldout", "0", "--threads", "1"],
                         cwd=DEMO_DIR.parent.parent, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "runs in bfloat16" in out.stderr and "top ' rugby' -> ' cycling'" in out.stdout
