"""Lenses trained to convergence, disjoint train / validation / held-out text, and comparison lines that cannot lie."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Engine
from lens import train_lenses
from lens.cli import goal_lines, kl_table
from lens.data import read_texts, split_holdout, split_validation
from lens.evaluate import EvalResult
from lens.train import Convergence, EarlyStop
from tiny_models import SENTENCES
from promptsets.paths import DEMO_DIR

TEXTS = [f"{s} {i}" for i, s in enumerate(SENTENCES * 3)]


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def test_held_out_lines_never_repeat_training_lines():
    texts = ["a b", "c d", "a b", "e f", "c d", "g h", "g h", "a b"]
    train, held = split_holdout(texts, 0.5)
    assert train == ["a b", "c d", "a b", "e f"] and held == ["g h"]


def test_validation_takes_every_copy_of_its_lines_out_of_training():
    fit, val = split_validation(["a", "b", "a", "c", "b", "d", "c"], 0.25)
    assert val == ["d"] and fit == ["a", "b", "a", "c", "b", "c"]
    fit, val = split_validation(["a", "b", "a", "b"], 0.5)
    assert val == ["b"] and fit == ["a", "a"]


def test_demo_corpus_train_validation_and_held_out_lines_are_disjoint():
    train, held = split_holdout(read_texts(DEMO_DIR / "corpus.txt"))
    fit, val = split_validation(train, Convergence().validation)
    assert held and val
    assert not set(held) & set(train)
    assert not set(val) & set(fit)


def test_training_stops_when_validation_stops_improving_and_keeps_the_best(eng, tmp_path):
    converge = Convergence(lrs=(3e-2,), every=5, patience=2, min_gain=0.05)
    lenses = train_lenses(eng, TEXTS, tmp_path, kind="compact", layers=[1], steps=400, batch_size=8,
                          progress=lambda *a: None, converge=converge)
    assert lenses.header.lr == 3e-2
    assert 0 < lenses.header.steps < 400 and lenses.header.steps % 5 == 0


def test_early_stop_keeps_the_best_state_and_waits_for_patience():
    import torch

    scores = iter([3.0, 2.0, 2.5, 2.4, 1.0])
    lens = torch.nn.Linear(1, 1)
    stop = EarlyStop(lambda: next(scores), Convergence(patience=2, min_gain=0.0))
    states = []
    for step in (10, 20, 30, 40):
        with torch.no_grad():
            lens.weight.fill_(step)
        states.append(stop.check(step, {0: lens}))
    assert states == [False, False, False, True]
    assert stop.restore({0: lens}) == 20 and float(lens.weight.detach()) == 20.0


def test_the_learning_rate_is_chosen_on_validation(eng, tmp_path):
    converge = Convergence(lrs=(1e-7, 3e-2), every=10, patience=1, probe_steps=10)
    lenses = train_lenses(eng, TEXTS, tmp_path, kind="full", layers=[0], steps=20, batch_size=8,
                          progress=lambda *a: None, converge=converge)
    assert lenses.header.lr == 3e-2  # 1e-7 barely moves the lens in 10 steps


def _result(compact, full, head_logit, resid) -> EvalResult:
    kl = np.array([head_logit, compact, full])[:, :, None].repeat(2, axis=2)
    return EvalResult(layers=(0, 1), names=("logit lens (head writes)", "compact", "full"), kl_heads=kl,
                      resid_kl=np.array(resid), n_texts=3, n_tokens=30)


def test_comparison_lines_say_no_where_a_claim_is_false():
    result = _result(compact=[1.0, 2.0], full=[1.5, 1.8], head_logit=[5.0, 5.0], resid=[3.0, 1.0])
    lines = goal_lines(result, "compact", "full", constant=1.9)
    assert "compact KL <= full KL at every layer: NO (fails at layers [1])" in lines
    assert "compact below the best constant at every layer: NO (fails at layers [1])" in lines
    assert "full below the best constant at every layer: yes" in lines
    assert "compact below the logit lens (head writes) at every layer: yes" in lines
    # The residual stream's logit lens reads everything written so far: a ceiling, never a bar.
    assert not [l for l in lines if "resid_post" in l]


def test_comparison_lines_say_yes_only_when_true_everywhere():
    result = _result(compact=[1.0, 1.0], full=[1.5, 1.8], head_logit=[5.0, 5.0], resid=[3.0, 2.0])
    lines = goal_lines(result, "compact", "full", constant=1.9)
    assert "compact KL <= full KL at every layer: yes" in lines
    assert not [l for l in lines if l.startswith("compact") and "NO" in l]


def test_table_names_the_lowest_column_per_layer():
    result = _result(compact=[1.0, 2.0], full=[1.5, 1.8], head_logit=[5.0, 5.0], resid=[3.0, 0.5])
    rows = kl_table(result, constant=1.9)[2:4]
    # Layer 1's resid logit lens (0.5) is lowest of all, but it is the ceiling: the lowest head reading is named.
    assert rows[0].endswith("compact") and rows[1].endswith("full")
    assert "best constant" in kl_table(result, constant=1.9)[1]
    assert "ceiling: logit lens (resid_post)" in kl_table(result, constant=1.9)[1]
