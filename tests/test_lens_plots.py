"""Lens figures are built from result dataclasses alone, with labels Plotly cannot merge."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from lens.plots import plot_attention_pattern, plot_head_grid, plot_head_topk, plot_logit_lens
from lens.decode import HeadLensResult, LogitLensResult, PatternResult

TOKENS = ("the", " cat", " the", " <b>", "\n")
VOCAB = np.array(["a", " b", "c", " d", "e", "f"], dtype=object)


def _topk(shape: tuple[int, ...], k: int = 3):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, len(VOCAB), size=(*shape, k))
    probs = np.sort(rng.random((*shape, k)).astype(np.float32), axis=-1)[..., ::-1] / k
    return ids, np.ascontiguousarray(probs), VOCAB[ids]


def _heads(target: bool = True) -> HeadLensResult:
    ids, probs, strs = _topk((2, 3, len(TOKENS)))
    shape = (2, 3, len(TOKENS))
    return HeadLensResult(
        lens="compact attention lens", layers=(1, 3), tokens=TOKENS, token_ids=tuple(range(len(TOKENS))),
        positions=tuple(range(len(TOKENS))), top_ids=ids, top_probs=probs, top_strs=strs,
        target=" b" if target else None,
        target_id=1 if target else None, target_prob=np.full(shape, 0.25, np.float32) if target else None,
        target_rank=np.full(shape, 4) if target else None)


def test_logit_lens_heatmap_labels_every_position_uniquely():
    ids, probs, strs = _topk((4, len(TOKENS)), k=5)
    result = LogitLensResult(site="resid_post", layers=(0, 1, 2, 3), tokens=TOKENS, token_ids=(0, 1, 2, 3, 4),
                             top_ids=ids, top_probs=probs, top_strs=strs)
    fig = plot_logit_lens(result)
    heat = fig.data[0]
    assert isinstance(fig, go.Figure) and np.asarray(heat.z).shape == (4, len(TOKENS))
    assert list(heat.x)[:3] == ["0: the", "1:  cat", "2:  the"]
    assert len(set(heat.x)) == len(TOKENS)
    assert "&lt;b&gt;" in heat.x[3]  # tokens are escaped, not rendered as HTML
    assert np.asarray(heat.hovertext)[2, 1].count("<br>") == 5  # header + top 5


def test_head_grid_shows_top_token_and_target_rank_on_hover():
    result = _heads()
    fig = plot_head_grid(result, pos=-1, by_target=False)
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (2, 3)
    assert list(heat.y) == ["L1", "L3"] and list(heat.x) == ["H0", "H1", "H2"]
    hover = np.asarray(heat.hovertext)[1, 2]
    assert hover.startswith("L3H2") and "rank 4" in hover and "p 0.250" in hover
    top, prob = result.top_strs[0, 0, -1, 0], result.top_probs[0, 0, -1, 0]
    assert np.asarray(heat.text)[0, 0] == f"{top}<br>{prob:.2f}"
    by_target = plot_head_grid(result, pos=-1).data[0]  # the default colour: the target's probability
    np.testing.assert_allclose(np.asarray(by_target.z), result.target_prob[:, :, -1])
    assert "p(target" in plot_head_grid(result, pos=-1).layout.title.text
    with pytest.raises(IndexError, match="positions 0-4"):
        plot_head_grid(result, pos=9)


def test_head_grid_of_a_single_decoded_position():
    full = _heads()
    one = HeadLensResult(
        lens=full.lens, layers=full.layers, tokens=full.tokens, token_ids=full.token_ids, positions=(2,),
        top_ids=full.top_ids[:, :, 2:3], top_probs=full.top_probs[:, :, 2:3], top_strs=full.top_strs[:, :, 2:3])
    np.testing.assert_array_equal(plot_head_grid(one, pos=2).data[0].z,
                                  plot_head_grid(full, pos=2, by_target=False).data[0].z)
    assert "2:  the" in plot_head_grid(one, pos=2).layout.title.text
    with pytest.raises(IndexError, match="was not decoded"):
        plot_head_grid(one, pos=1)


def test_head_grid_without_target_has_no_target_line():
    hover = np.asarray(plot_head_grid(_heads(target=False), pos=0).data[0].hovertext)
    assert not any("target" in h for h in hover.ravel())


def test_head_topk_bars_and_target_marker():
    fig = plot_head_topk(_heads(), layer=3, head=1, pos=2)
    bar = fig.data[0]
    assert len(bar.x) == 3 and list(bar.x) == sorted(bar.x, reverse=True)
    assert any("rank 4" in a.text for a in fig.layout.annotations)
    with pytest.raises(IndexError, match="was not decoded"):
        plot_head_topk(_heads(), layer=0, head=1, pos=2)


def test_attention_pattern_heatmap():
    pattern = np.tril(np.ones((2, len(TOKENS), len(TOKENS)), np.float32))
    pattern /= pattern.sum(-1, keepdims=True)
    fig = plot_attention_pattern(PatternResult(layer=2, tokens=TOKENS, pattern=pattern), head=1)
    assert np.asarray(fig.data[0].z).shape == (len(TOKENS), len(TOKENS))
    assert "L2H1" in fig.layout.title.text
    with pytest.raises(IndexError, match="heads 0-1"):
        plot_attention_pattern(PatternResult(layer=2, tokens=TOKENS, pattern=pattern), head=2)
