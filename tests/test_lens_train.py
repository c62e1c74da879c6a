"""Lens training on tiny models: batched capture, learning, determinism, checkpoints and resume."""

from __future__ import annotations

import pytest
import torch

from engine import Engine, OutOfRangeError
from engine.trace import pad_batch
from lens import load_lenses, train_lenses
from lens.data import split_holdout
from lens.evaluate import evaluate_lenses
from lens.storage import CHECKPOINT_FILE
from tiny_models import SENTENCES

TEXTS = [f"{s} {i}" for i, s in enumerate(SENTENCES)]


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def _hooks(eng: Engine) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in eng.model.modules())


def test_batched_capture_matches_the_engine_trace_for_every_family(tiny_family_dir):
    family, folder = tiny_family_dir
    eng = Engine.load(folder)
    prompts = ["Zentrix is a shipping company based in Quarry.", "you are", "thanks for the helpful post"]
    seqs = [eng.encode(p) for p in prompts]
    acts = eng.capture(pad_batch(seqs), layers=(0, 2))
    start = 0
    for seq in seqs:
        trace, rows = eng.trace(seq), slice(start, start + len(seq))
        for layer in (0, 2):
            torch.testing.assert_close(acts.at("head_writes", layer)[rows], trace.head_writes(layer), atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(acts.at("resid_post", layer)[rows], trace.resid_post(layer), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(acts.log_probs[rows], torch.log_softmax(trace.logits, -1), atol=1e-4, rtol=1e-4)
        start += len(seq)
    assert _hooks(eng) == 0, f"{family}: capture left a hook behind"


@pytest.mark.parametrize("kind", ["compact", "full"])
def test_trained_lenses_beat_the_logit_lens_on_held_out_text(eng, tmp_path, kind):
    lenses = train_lenses(eng, TEXTS, tmp_path, kind=kind, steps=30, batch_size=8, progress=lambda *a: None)
    held = split_holdout(TEXTS)[1]
    result = evaluate_lenses(eng, held, [lenses])
    assert (result.row(lenses.name) < result.row("logit lens (head writes)")).all()
    assert len(lenses.header.final_kl) == eng.spec.n_layers
    assert not (tmp_path / CHECKPOINT_FILE).exists()
    assert _hooks(eng) == 0


def test_training_is_deterministic_for_a_seed(eng, tmp_path):
    kwargs = dict(kind="compact", layers=[1], steps=4, batch_size=8, progress=lambda *a: None)
    a = train_lenses(eng, TEXTS, tmp_path / "a", seed=3, **kwargs).layer(1).weight
    b = train_lenses(eng, TEXTS, tmp_path / "b", seed=3, **kwargs).layer(1).weight
    c = train_lenses(eng, TEXTS, tmp_path / "c", seed=4, **kwargs).layer(1).weight
    assert torch.equal(a, b) and not torch.equal(a, c)


class Stop(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_same_lenses(eng, tmp_path):
    kwargs = dict(kind="compact", layers=[0, 2], steps=6, batch_size=8, checkpoint_every=2, rank=3)
    whole = train_lenses(eng, TEXTS, tmp_path / "whole", progress=lambda *a: None, **kwargs)

    def stop_after_5(done, total):
        if done == 5:
            raise Stop

    with pytest.raises(Stop):
        train_lenses(eng, TEXTS, tmp_path / "cut", progress=stop_after_5, **kwargs)
    assert (tmp_path / "cut" / CHECKPOINT_FILE).exists()
    seen = []
    resumed = train_lenses(eng, TEXTS, tmp_path / "cut", progress=lambda d, t: seen.append((d, t)), **kwargs)
    assert seen == [(5, 6), (6, 6)]
    for layer in (0, 2):
        for name, p in whole.layer(layer).state_dict().items():
            assert torch.equal(p, resumed.layer(layer).state_dict()[name]), name


def test_a_checkpoint_from_other_settings_is_not_resumed(eng, tmp_path):
    def stop(done, total):
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        train_lenses(eng, TEXTS, tmp_path, layers=[0], steps=4, checkpoint_every=2, batch_size=8, progress=stop)
    seen = []
    train_lenses(eng, TEXTS, tmp_path, layers=[0], steps=4, seed=9, batch_size=8,
                 progress=lambda d, t: seen.append(d))
    assert seen == [1, 2, 3, 4]


def test_saved_lenses_load_and_record_their_training(eng, tmp_path):
    train_lenses(eng, TEXTS, tmp_path, layers=[2], steps=2, batch_size=8, data_name="sentences",
                 progress=lambda *a: None)
    header = load_lenses(tmp_path, eng).header
    assert header.layers == (2,) and header.steps == 2 and header.data.name == "sentences"
    assert header.data.n_texts == len(TEXTS) and header.fingerprint == eng.spec.fingerprint
    assert len(header.final_kl[0]) == eng.spec.n_heads and all(k > 0 for k in header.final_kl[0])


def test_bad_arguments_are_clear_errors(eng, tmp_path):
    with pytest.raises(OutOfRangeError, match="layers 0-2"):
        train_lenses(eng, TEXTS, tmp_path, layers=[5], steps=1)
    with pytest.raises(ValueError, match="unknown lens kind"):
        train_lenses(eng, TEXTS, tmp_path, kind="huge", steps=1)
    with pytest.raises(ValueError, match="no training text"):
        train_lenses(eng, [], tmp_path, steps=1)


def test_a_failing_capture_leaves_no_hook(eng):
    bad = pad_batch([[1, 2, eng.spec.d_vocab + 5]])
    with pytest.raises(IndexError):
        eng.capture(bad, layers=(0, 1))
    assert _hooks(eng) == 0
