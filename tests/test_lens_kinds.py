"""Lens modules, sizes and the top-k kernel, on plain tensors."""

from __future__ import annotations

import pytest
import torch

from lens.decode import topk_stats
from lens.errors import LensFormatError
from lens.evaluate import head_chunks, kl_per_head
from lens.lenses import (CompactLayerLens, FullLayerLens, Unembed, layer_lens_from_state, new_layer_lens,
                         params_per_head)

D_MODEL, D_VOCAB, N_HEADS = 16, 50, 3


@pytest.fixture()
def unembed() -> Unembed:
    torch.manual_seed(0)
    norm = torch.nn.LayerNorm(D_MODEL)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    return Unembed(norm, torch.randn(D_MODEL, D_VOCAB), torch.randn(D_VOCAB))


@pytest.mark.parametrize("rows", [1, 5, 64, 65, 300])
def test_unembed_is_norm_then_w_u_for_any_number_of_rows(unembed, rows):
    x = torch.randn(rows, 2, D_MODEL)
    expected = unembed.norm(x) @ unembed.W_U + unembed.b_U
    torch.testing.assert_close(unembed(x), expected)
    torch.testing.assert_close(unembed(x, norm=False), x @ unembed.W_U + unembed.b_U)


def test_compact_starts_as_the_logit_lens(unembed):
    x = torch.randn(7, N_HEADS, D_MODEL)
    for rank in (None, 4):
        lens = new_layer_lens("compact", N_HEADS, unembed, rank)
        torch.testing.assert_close(lens(x, unembed), unembed(x))


def test_full_starts_as_the_unembedding_without_norm(unembed):
    x = torch.randn(7, N_HEADS, D_MODEL)
    lens = new_layer_lens("full", N_HEADS, unembed)
    torch.testing.assert_close(lens(x), unembed(x, norm=False))


def test_head_slices_decode_the_same_heads(unembed):
    x = torch.randn(5, N_HEADS, D_MODEL)
    for lens in (CompactLayerLens(N_HEADS, D_MODEL, rank=2), FullLayerLens.from_unembed(N_HEADS, unembed)):
        with torch.no_grad():
            for p in lens.parameters():
                p.add_(0.1 * torch.randn_like(p))
        torch.testing.assert_close(lens(x[:, 1:], unembed, slice(1, None)), lens(x, unembed)[:, 1:])


def test_unembed_does_not_touch_the_model_weights(unembed):
    lens = new_layer_lens("compact", N_HEADS, unembed)
    lens(torch.randn(4, N_HEADS, D_MODEL), unembed).sum().backward()
    assert lens.weight.grad is not None
    assert all(p.grad is None for p in unembed.parameters())


def test_gpt2_small_sizes_match_the_original_and_compact_is_20x_smaller():
    full = params_per_head("full", 768, 50257)
    compact = params_per_head("compact", 768, 50257)
    assert round(full / 1e5) == 386  # 38.6 M per head
    assert round(full * 144 / 1e7) == 557  # 5.57 B for all heads
    assert full / compact >= 20
    assert params_per_head("compact", 768, 50257, rank=64) < compact


def test_saved_state_with_wrong_shapes_is_refused(unembed):
    state = new_layer_lens("compact", N_HEADS, unembed).state_dict()
    with pytest.raises(LensFormatError, match="do not match"):
        layer_lens_from_state("compact", state, N_HEADS + 1, D_MODEL, D_VOCAB, None)
    with pytest.raises(LensFormatError, match="unknown lens kind"):
        layer_lens_from_state("huge", state, N_HEADS, D_MODEL, D_VOCAB, None)


def test_topk_stats_match_softmax_and_sort():
    torch.manual_seed(1)
    logits = torch.randn(4, 6, D_VOCAB) * 3
    stats = topk_stats(logits, k=5, target_id=7)
    probs = torch.softmax(logits, -1)
    top = probs.sort(-1, descending=True)
    torch.testing.assert_close(stats.probs, top.values[..., :5])
    assert torch.equal(stats.ids, top.indices[..., :5])
    torch.testing.assert_close(stats.target_prob, probs[..., 7])
    expected_rank = (top.indices == 7).nonzero()[:, -1].reshape(4, 6) + 1
    assert torch.equal(stats.target_rank, expected_rank)


def test_kl_per_head_is_zero_for_the_same_distribution_and_positive_otherwise():
    logits = torch.randn(9, D_VOCAB)
    log_probs = torch.log_softmax(logits, -1)
    lens_logits = torch.stack([logits + 3.0, torch.randn(9, D_VOCAB)], dim=1)
    kl, _ = kl_per_head(lens_logits, log_probs)
    assert abs(float(kl[0])) < 1e-5 and float(kl[1]) > 0.1
    lens_logp = torch.log_softmax(lens_logits, -1)
    expected = (log_probs.exp()[:, None] * (log_probs[:, None] - lens_logp)).sum(-1).mean(0)
    torch.testing.assert_close(kl, expected)


def test_kl_gradient_matches_autograd():
    torch.manual_seed(2)
    log_probs = torch.log_softmax(torch.randn(6, D_VOCAB), -1)
    lens_logits = torch.randn(6, 2, D_VOCAB, requires_grad=True)
    lens_logp = torch.log_softmax(lens_logits, -1)
    (log_probs.exp()[:, None] * (log_probs[:, None] - lens_logp)).sum(-1).mean(0).sum().backward()
    _, grad = kl_per_head(lens_logits, log_probs, with_grad=True)
    torch.testing.assert_close(grad, lens_logits.grad)


def test_head_chunks_cover_every_head_once():
    chunks = list(head_chunks(n=100_000, n_heads=12, d_vocab=50257))
    assert [h for c in chunks for h in range(12)[c]] == list(range(12))
    assert len(chunks) == 12
