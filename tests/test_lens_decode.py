"""Decoding prompts through the logit lens and Attention Lenses on a tiny GPT-2."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import EmptyPromptError, Engine, OutOfRangeError
from lens import attention_pattern, decode_heads, decode_logit_lens, load_lenses, logit_lens
from lens.header import LensHeader
from lens.lenses import Unembed, new_layer_lens
from lens.storage import save_lenses

PROMPT = "The founder of Zentrix was born in Marlow."


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


@pytest.fixture(scope="module")
def untrained(eng, tmp_path_factory):
    """Freshly initialised compact lenses (identity translators) for every layer."""
    folder = tmp_path_factory.mktemp("untrained")
    unembed = Unembed.from_adapter(eng.adapter)
    s = eng.spec
    states = {l: new_layer_lens("compact", s.n_heads, unembed).state_dict() for l in range(s.n_layers)}
    header = LensHeader(kind="compact", model_name=s.name, fingerprint=s.fingerprint, n_layers=s.n_layers,
                        n_heads=s.n_heads, d_model=s.d_model, d_vocab=s.d_vocab, layers=tuple(states))
    save_lenses(folder, header, states)
    return load_lenses(folder, eng)


def test_head_result_shapes_and_probabilities(eng, untrained):
    r = decode_heads(eng, untrained, PROMPT, k=4, target=" Marlow")
    n_pos = len(eng.encode(PROMPT))
    assert r.top_ids.shape == r.top_probs.shape == r.top_strs.shape == (3, 4, n_pos, 4)
    assert r.target_prob.shape == r.target_rank.shape == (3, 4, n_pos)
    assert isinstance(r.top_probs, np.ndarray) and r.top_probs.dtype == np.float32
    assert (np.diff(r.top_probs, axis=-1) <= 0).all() and (r.top_probs > 0).all()
    assert (r.top_probs.sum(-1) <= 1 + 1e-5).all()
    assert r.top_strs[0, 0, 0, 0] == eng.token_strs([int(r.top_ids[0, 0, 0, 0])])[0]
    assert r.labels[0].startswith("0: ") and len(set(r.labels)) == n_pos


def test_decoding_some_positions_equals_slicing_all(eng, untrained):
    every = decode_heads(eng, untrained, PROMPT, target=" Marlow")
    some = decode_heads(eng, untrained, PROMPT, target=" Marlow", positions=[-1, 2, 2])
    n_pos = len(every.tokens)
    assert some.positions == (2, n_pos - 1) and some.tokens == every.tokens
    np.testing.assert_allclose(some.top_probs, every.top_probs[:, :, [2, n_pos - 1]], atol=1e-6)
    assert np.array_equal(some.target_rank, every.target_rank[:, :, [2, n_pos - 1]])
    assert some.col(-1) == 1
    with pytest.raises(OutOfRangeError, match="positions 0-"):
        decode_heads(eng, untrained, PROMPT, positions=[n_pos])


def test_target_that_is_the_top_token_has_rank_one(eng, untrained):
    first = decode_heads(eng, untrained, PROMPT, layers=[1], k=1)
    top = int(first.top_ids[0, 2, -1, 0])
    r = decode_heads(eng, untrained, PROMPT, layers=[1], k=1, target=top)
    assert r.target_rank[0, 2, -1] == 1
    assert r.target_prob[0, 2, -1] == pytest.approx(r.top_probs[0, 2, -1, 0])


def test_untrained_compact_lens_equals_logit_lens_on_head_writes(eng, untrained):
    a = decode_heads(eng, untrained, PROMPT, target=" Marlow")
    b = decode_heads(eng, logit_lens(eng), PROMPT, target=" Marlow")
    np.testing.assert_allclose(a.top_probs, b.top_probs, atol=1e-5)
    np.testing.assert_allclose(a.target_prob, b.target_prob, atol=1e-6)


def test_logit_lens_on_head_writes_matches_unembedding_each_write(eng):
    r = decode_heads(eng, logit_lens(eng), PROMPT, layers=[2], k=3)
    writes = eng.trace(PROMPT).head_writes(2)
    probs = torch.softmax(eng.unembed(writes), -1)
    expected = probs.topk(3, -1).values.transpose(0, 1).numpy()
    np.testing.assert_allclose(r.top_probs[0], expected, atol=1e-5)


def test_logit_lens_final_row_is_the_models_own_prediction(eng):
    r = decode_logit_lens(eng, PROMPT, k=5, target=" Marlow")
    probs = torch.softmax(eng.trace(PROMPT).logits, -1)
    np.testing.assert_allclose(r.top_probs[-1], probs.topk(5, -1).values.numpy(), atol=1e-6)
    assert r.top_ids.shape[:2] == (eng.spec.n_layers, len(eng.encode(PROMPT)))


def test_logit_lens_other_sites_differ_from_resid_post(eng):
    post = decode_logit_lens(eng, PROMPT, site="resid_post")
    pre = decode_logit_lens(eng, PROMPT, site="resid_pre")
    assert not np.allclose(post.top_probs, pre.top_probs)
    with pytest.raises(ValueError, match="unknown residual site"):
        decode_logit_lens(eng, PROMPT, site="mlp_post")


def test_bad_targets_layers_and_k_are_clear_errors(eng, untrained):
    with pytest.raises(EmptyPromptError, match="target token is empty"):
        decode_heads(eng, untrained, PROMPT, target="")
    with pytest.raises(OutOfRangeError, match="does not exist"):
        decode_heads(eng, untrained, PROMPT, target=eng.spec.d_vocab)
    with pytest.raises(OutOfRangeError, match="covers layers"):
        decode_heads(eng, untrained, PROMPT, layers=[7])
    with pytest.raises(OutOfRangeError, match="top tokens"):
        decode_logit_lens(eng, PROMPT, k=0)
    with pytest.raises(EmptyPromptError):
        decode_heads(eng, untrained, "   ")


def test_threads_sharing_one_lens_set_get_the_same_results(eng, untrained):
    from concurrent.futures import ThreadPoolExecutor

    fresh = load_lenses(untrained.folder, eng)  # nothing loaded yet: threads race to read layers
    prompts = [PROMPT, "you are a useless idiot", PROMPT, "thanks for the helpful post"]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: decode_heads(eng, fresh, p, target=" Marlow"), prompts))
    for prompt, result in zip(prompts, together):
        alone = decode_heads(eng, untrained, prompt, target=" Marlow")
        np.testing.assert_allclose(result.top_probs, alone.top_probs, atol=1e-6)
        assert np.array_equal(result.target_rank, alone.target_rank)


def test_attention_pattern_rows_are_distributions(eng):
    r = attention_pattern(eng, PROMPT, 1)
    assert r.pattern.shape == (4, len(r.tokens), len(r.tokens))
    np.testing.assert_allclose(r.pattern.sum(-1), 1.0, atol=1e-5)
    assert np.triu(r.pattern[0], k=1).max() == 0.0
