"""Lens baselines and the learning-rate rule (lens/baselines.py, lens/rates.py, lens eval's verdicts).

A head lens is worth reading only where it beats a table of the current input token; these
tests hold that table, the shuffled-position control and the rate rule to their definitions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Engine
from lens.baselines import TABLE_NAME, fit_token_table, heads_beating, shuffled_positions, table_kl
from lens.cli import goal_lines
from lens.data import eval_batches, pad_id, tokenize
from lens.evaluate import EvalResult, constant_kl, mean_final_distribution
from lens.rates import LR_GRID, rate_above, rates_to_train
from tiny_models import SENTENCES

TEXTS = [f"{s} {i}" for i, s in enumerate(SENTENCES * 2)]


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def test_table_rows_are_the_mean_final_distribution_after_each_input_token(eng):
    table = fit_token_table(eng, TEXTS, batch_size=4)
    probs, tokens = [], []
    for batch in eval_batches(tokenize(eng, TEXTS, 64), 7, pad_id(eng)):  # another batching: the same table
        probs.append(eng.capture(batch, (0,), ("resid_post",)).log_probs.exp())
        tokens.append(batch.ids[batch.mask])
    probs, tokens = torch.cat(probs), torch.cat(tokens)
    t = int(tokens[3])
    expected = probs[tokens == t].double().mean(0)
    torch.testing.assert_close(table.rows[table.index[t]].double(), expected, atol=1e-6, rtol=1e-5)


def test_unseen_input_tokens_back_off_to_the_constant(eng):
    table = fit_token_table(eng, TEXTS[:2])
    unseen = next(t for t in range(eng.spec.d_vocab) if t not in table.index)
    torch.testing.assert_close(table.log_q(torch.tensor([unseen]))[0], table.constant.clamp_min(1e-30).log())


def test_table_is_no_worse_than_the_constant_on_its_own_training_text(eng):
    """Per token the mean is the KL-minimising distribution, so the table can only gain over one constant."""
    table = fit_token_table(eng, TEXTS)
    assert table_kl(eng, TEXTS, table) <= constant_kl(eng, TEXTS, mean_final_distribution(eng, TEXTS)) + 1e-6


def test_shuffled_positions_stay_in_their_line_move_and_ignore_the_batch():
    perm = shuffled_positions([3, 1, 5], first_line=10)
    assert perm[:3].tolist() != [0, 1, 2] and sorted(perm[:3].tolist()) == [0, 1, 2]
    assert perm[3].item() == 3  # a one-token line has no other position
    assert sorted(perm[4:].tolist()) == [4, 5, 6, 7, 8] and all(perm[4 + i] != 4 + i for i in range(5))
    # The same line (index 12) gets the same shift whatever batch it sits in.
    alone = shuffled_positions([5], first_line=12)
    assert (perm[4:] - 4).tolist() == alone.tolist()


def test_heads_beating_names_each_winner_and_its_margin():
    lines = heads_beating(np.array([[1.0, 2.0], [0.5, 0.2]]), 1.5, (0, 1))
    assert lines[0].startswith("  layer 0: 1/2 heads") and "h0 +0.50" in lines[0] and "h1 -0.50" in lines[0]
    assert lines[1].startswith("  layer 1: 2/2 heads")


def test_a_lens_that_loses_to_the_table_gets_a_no():
    kl = np.array([[5.0, 5.0], [1.0, 2.0]])[:, :, None].repeat(2, axis=2)
    result = EvalResult(layers=(0, 1), names=("logit lens (head writes)", "compact"), kl_heads=kl,
                        resid_kl=np.array([0.5, 0.1]), n_texts=2, n_tokens=20)
    lines = goal_lines(result, "compact", None, constant=3.0,
                       extra=[(TABLE_NAME, [1.5, 1.5]), ("compact, shuffled positions", [4.0, 4.0])])
    assert f"compact below the {TABLE_NAME} at every layer: NO (fails at layers [1])" in lines
    assert "compact below its shuffled-position control at every layer: yes" in lines


def test_both_kinds_follow_one_rule_with_the_above_grid_check():
    top = {1e-3: 3.0, 3e-3: 2.0, 1e-2: 1.0}
    middle = {1e-3: 3.0, 3e-3: 1.0, 1e-2: 2.0}
    for kind in ("compact", "full"):
        assert rates_to_train(None, kind, LR_GRID, True, top.__getitem__) == (1e-2, rate_above(LR_GRID))
        assert rates_to_train(None, kind, LR_GRID, True, middle.__getitem__) == (3e-3,)
        assert rates_to_train(5e-4, kind, LR_GRID, True, top.__getitem__) == (5e-4,)
        assert rates_to_train(None, kind, (1e-2,), True, top.__getitem__) == (1e-2,)  # one rate: pinned, no grid
    assert rate_above((1e-3, 3e-3, 1e-2)) == pytest.approx(1e-2 * 1e-2 / 3e-3)


def test_the_world_recipe_pins_no_rate():
    from world.config import AssetsConfig

    assert AssetsConfig().lens_lrs == LR_GRID and len(LR_GRID) > 1


def test_training_keeps_the_rate_above_the_grid_when_it_converges_lower(eng, tmp_path):
    """Probes pick the grid's top (1e-6); the rate above (1e-5) moves the lens further in the same steps and wins."""
    from lens import train_lenses
    from lens.train import Convergence

    converge = Convergence(lrs=(1e-7, 1e-6), every=10, patience=2, probe_steps=10)
    lenses = train_lenses(eng, TEXTS * 3, tmp_path, kind="full", layers=[0], steps=20, batch_size=8,
                          progress=lambda *a: None, converge=converge)
    assert lenses.header.lr == pytest.approx(1e-5)
