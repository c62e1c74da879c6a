"""Activation patching: batched rows equal one site at a time, the shares mean what the page says,
bad pairs are refused, and no hook outlives a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine import Engine, Patch
from engine.errors import OutOfRangeError
from patch import PatchError, PatchSpec, patch_sites
from patch.compute import metric_of, site_patches
from tinystories import TINYSTORIES, requires_tinystories

# Prompts of the tiny GPT-2's tokenizer: the same length, different at the first 4 positions.
TINY = PatchSpec("Tovaren plays tennis", "Melisande plays tennis", " p", " t")
# The same length, different at position 0 only ("Zentrix" and "The" are one token each).
ONE_TOKEN = PatchSpec("Zentrix is a", "The is a", " p", " t")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def looped(engine: Engine, spec: PatchSpec) -> dict[str, np.ndarray]:
    """The metric of every site, one plain hooked full forward per site (the slow reference)."""
    good = engine.token_id(spec.clean_answer, first=True)
    bad = engine.token_id(spec.corrupted_answer, first=True) if spec.metric == "logit_diff" else None
    target, source = (spec.corrupted, spec.clean) if spec.direction == "denoise" else (spec.clean, spec.corrupted)
    trace, n_pos = engine.trace(source), len(engine.encode(source))
    out: dict[str, list] = {"resid": [], "heads": [], "mlp": []}
    for layer in range(engine.spec.n_layers):
        for name, patches in site_patches(trace, layer, n_pos, engine.spec.n_heads).items():
            out[name].append([metric_of(engine.run_full(target, [p]).logits[0], good, bad) for p in patches])
    return {k: np.asarray(v) for k, v in out.items()}


def metrics(result) -> dict[str, np.ndarray]:
    """The result's shares back on the metric's scale."""
    gap = result.clean_metric - result.corrupted_metric
    return {k: result.corrupted_metric + getattr(result, k) * gap for k in ("resid", "heads", "mlp")}


@pytest.mark.parametrize("direction", ["denoise", "noise"])
@pytest.mark.parametrize("metric", ["logit_diff", "prob"])
def test_batched_rows_equal_one_site_at_a_time(tiny, direction, metric):
    spec = PatchSpec(TINY.clean, TINY.corrupted, TINY.clean_answer, TINY.corrupted_answer, metric, direction)
    assert len(tiny.encode(spec.clean)) == len(tiny.encode(spec.corrupted))
    result = patch_sites(tiny, spec)
    reference, got = looped(tiny, spec), metrics(result)
    n_layers, n_pos = tiny.spec.n_layers, len(tiny.encode(spec.clean))
    assert result.resid.shape == result.mlp.shape == (n_layers, n_pos)
    assert result.heads.shape == (n_layers, tiny.spec.n_heads)
    for name in reference:
        np.testing.assert_allclose(got[name], reference[name], rtol=0, atol=2e-5, err_msg=name)


def test_every_family_matches_the_loop(tiny_family_dir):
    family, folder = tiny_family_dir
    engine = Engine.load(folder)
    ids = engine.encode(TINY.clean)
    spec = TINY if len(engine.encode(TINY.corrupted)) == len(ids) else ONE_TOKEN
    got, reference = metrics(patch_sites(engine, spec)), looped(engine, spec)
    for name in reference:
        np.testing.assert_allclose(got[name], reference[name], rtol=0, atol=2e-5, err_msg=f"{family} {name}")


@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_the_embedding_of_the_differing_token_carries_the_whole_gap(tiny, direction):
    """Prompts that differ at position 0 only: at layer 0 that position's resid_pre is the whole
    difference (share 1 restored by denoising, 0 left by noising); the others change nothing."""
    a, b = tiny.encode(ONE_TOKEN.clean), tiny.encode(ONE_TOKEN.corrupted)
    assert len(a) == len(b) and a[1:] == b[1:] and a[0] != b[0]
    spec = PatchSpec(*(getattr(ONE_TOKEN, f) for f in ("clean", "corrupted", "clean_answer", "corrupted_answer")),
                     direction=direction)
    row = patch_sites(tiny, spec).resid[0]
    whole, none = (1.0, 0.0) if direction == "denoise" else (0.0, 1.0)
    assert row[0] == pytest.approx(whole, abs=1e-5)
    np.testing.assert_allclose(row[1:], none, atol=1e-5)


def test_prompts_of_different_lengths_are_refused(tiny):
    with pytest.raises(PatchError, match="same token length"):
        patch_sites(tiny, PatchSpec("Zentrix plays tennis", "Tovaren plays tennis", " p", " t"))


def test_equal_answers_and_no_gap_are_refused(tiny):
    with pytest.raises(PatchError, match="two different answers"):
        patch_sites(tiny, PatchSpec(TINY.clean, TINY.corrupted, " p", " p"))
    with pytest.raises(PatchError, match="nothing to restore"):
        patch_sites(tiny, PatchSpec(TINY.clean, TINY.clean, " p", " t"))
    with pytest.raises(PatchError, match="corrupted prompt's answer"):
        patch_sites(tiny, PatchSpec(TINY.clean, TINY.corrupted, " p", None))


def test_a_patch_naming_a_missing_head_or_position_is_refused(tiny):
    with pytest.raises(OutOfRangeError, match="heads 0-3"):
        tiny.run(TINY.clean, [Patch.from_tensor(0, "head", (0,), torch.zeros(1, tiny.spec.d_head), head=9)])
    with pytest.raises(OutOfRangeError, match="positions 0-"):
        tiny.run(TINY.clean, [Patch.from_tensor(0, "resid_pre", (99,), torch.zeros(1, tiny.spec.d_model))])


def test_no_hook_outlives_a_patching_run(tiny):
    patch_sites(tiny, TINY)
    for module in tiny.model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_a_patch_is_a_value(tiny):
    trace = tiny.trace(TINY.clean)
    a = Patch.from_tensor(1, "mlp_out", (2,), trace.mlp[1, 2:3])
    b = Patch.from_tensor(1, "mlp_out", (2,), trace.mlp[1, 2:3].clone())
    assert a == b and hash(a) == hash(b)


@requires_tinystories
def test_tinystories_llama_matches_the_loop():
    engine = Engine.load(TINYSTORIES)
    spec = PatchSpec("Once upon a time, there was a little girl named Lily. Lily",
                     "Once upon a time, there was a little boy named Tom. Tom", ". She ", "my ")
    result = patch_sites(engine, spec)
    assert result.clean_metric > result.corrupted_metric
    got, reference = metrics(result), looped(engine, spec)
    for name in reference:
        np.testing.assert_allclose(got[name], reference[name], rtol=0, atol=5e-5, err_msg=name)
    # The last layer's residual stream at the last position carries the whole answer.
    assert result.resid[-1, -1] == pytest.approx(1.0, abs=0.1)
