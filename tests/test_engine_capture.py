"""Engine.capture: a right-padded batch gives, at its real positions, what each prompt's trace holds."""

from __future__ import annotations

import pytest
import torch

from engine import Engine, InterventionError, OutOfRangeError
from engine.trace import CAPTURE_SITES

TEXTS = ["Tovaren plays tennis and was born in Marlow.", "you are a useless idiot", "Zentrix is a"]


def _hooks_left(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _from_trace(trace, site: str, layer: int) -> torch.Tensor:
    if site == "head_writes":
        return trace.head_writes(layer)
    return {"resid_post": trace.resid_post, "mlp_in": trace.mlp_in, "mlp_post": trace.neurons,
            "mlp_out": trace.mlp_out}[site](layer)


def test_capture_equals_each_prompts_trace_in_every_family(tiny_family_dir):
    family, folder = tiny_family_dir
    eng = Engine.load(str(folder))
    seqs = [eng.encode(t) for t in TEXTS]
    got = eng.capture(seqs, layers=[0, 2], sites=CAPTURE_SITES)
    assert _hooks_left(eng.model) == 0
    start = 0
    for seq in seqs:
        rows = slice(start, start + len(seq))
        trace = eng.trace(seq)
        for site in CAPTURE_SITES:
            for layer in (0, 2):
                torch.testing.assert_close(got.at(site, layer)[rows], _from_trace(trace, site, layer),
                                           atol=1e-4, rtol=1e-4, msg=f"{family} {site} {layer}")
        torch.testing.assert_close(got.log_probs[rows], torch.log_softmax(trace.logits, -1), atol=1e-4, rtol=1e-4)
        start += len(seq)
    assert got.log_probs.shape[0] == start


def test_bad_requests_are_refused_and_leave_no_hook(tiny_model_dir):
    eng = Engine.load(str(tiny_model_dir))
    ids = [eng.encode(TEXTS[0])]
    with pytest.raises(OutOfRangeError, match="layers 0-2"):
        eng.capture(ids, layers=[3])
    with pytest.raises(InterventionError, match="mlp_post"):
        eng.capture(ids, sites=["neurons"])
    with pytest.raises(OutOfRangeError, match="does not exist"):
        eng.capture([[1, 2, eng.spec.d_vocab + 5]])
    assert _hooks_left(eng.model) == 0
