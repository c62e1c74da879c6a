"""The memory decomposition's controls do what their names say (memory/decompose.py).

The bench's claim is that part of the bridge's repair is a direct push toward the answer's
unembedding row; these tests hold each control to its definition, so the figures it prints
mean what docs/science.md says they mean.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Engine
from memory.evaluate import (VARIANTS, cosine, decompose, direct_gain, log_gain_share, matched_control,
                             project_out, surviving_share, unembedding_rows)
from memory.inject import build_memory
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS
from promptsets.schema import load_two_hop_prompts


@pytest.fixture(scope="module")
def demo() -> Engine:
    torch.set_num_threads(1)
    return Engine.load(str(DEMO_DIR))


@pytest.fixture(scope="module")
def prompts():
    return load_two_hop_prompts(DEMO_PROMPTS)


def test_projecting_out_leaves_nothing_along_the_directions_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(3, 16))
    orth = rng.normal(size=16)
    orth -= dirs.T @ np.linalg.lstsq(dirs.T, orth, rcond=None)[0]
    vector = orth + dirs.T @ np.array([2.0, -1.0, 0.5])
    out = project_out(vector, dirs)
    assert np.abs(dirs @ out).max() < 1e-4
    np.testing.assert_allclose(out, orth, atol=1e-4)


def test_direct_path_at_scale_zero_changes_nothing(demo, prompts):
    """Adding nothing to the final residual gives the model's own logits: the direct path starts from the clean run."""
    p = prompts[0]
    gain, _ = direct_gain(demo, p.prompt, build_memory(demo, p.bridge), 0.0, p.answer)
    assert gain == pytest.approx(1.0, abs=1e-5)


def test_direct_path_of_the_answer_row_raises_the_answer(demo, prompts):
    p = prompts[0]
    row = unembedding_rows(demo, [p.answer])[0]
    gain, _ = direct_gain(demo, p.prompt, row.astype(np.float32), 5.0, p.answer)
    assert gain > 1.0


def test_matched_control_is_closest_in_cosine_and_never_excluded(demo, prompts):
    same = [q for q in prompts if q.relation == prompts[0].relation]
    row = unembedding_rows(demo, [prompts[0].answer])[0]
    pool = [q.bridge for q in same]
    target = cosine(build_memory(demo, prompts[0].bridge), row)
    name, c = matched_control(demo, pool, row, target, exclude=(prompts[0].bridge,))
    assert name != prompts[0].bridge
    others = [abs(cosine(build_memory(demo, e), row) - target) for e in set(pool) - {prompts[0].bridge}]
    assert abs(c - target) == pytest.approx(min(others))


def test_decomposition_removes_every_candidate_answer_direction(demo, prompts):
    wrong = [p for p in prompts if p.split == "heldout"][:3]
    d = decompose(demo, wrong, [(1, 5.0)] * len(wrong), prompts)
    assert set(d.gains) == set(VARIANTS) and all(len(g) == 3 for g in d.gains.values())
    assert np.abs(d.cos["bridge - candidates"]).max() < 1e-3 and np.abs(d.cos["bridge - answer"]).max() < 1e-3
    # The "other" control is never itself a bridge to this prompt's answer.
    for p, (_, other) in zip(wrong, d.matched):
        assert other not in {q.bridge for q in prompts if q.relation == p.relation and q.answer == p.answer}


def test_shares_count_only_the_bridges_repairs():
    full = np.array([4.0, 3.0, 1.5, 0.5])
    part = np.array([2.0, 1.0, 3.0, 9.0])
    k, n, ci = surviving_share(full, part)
    assert (k, n) == (1, 2) and 0.0 < ci[0] < 0.5 < ci[1] < 1.0
    med, (lo, hi) = log_gain_share(np.array([4.0, 4.0]), np.array([2.0, 2.0]))
    assert med == pytest.approx(0.5) and lo == pytest.approx(0.5) and hi == pytest.approx(0.5)


def test_composition_claims_hold_only_when_the_intervals_are_apart():
    from memory.evaluate import Decomposition, composition_claims

    n = 40
    gains = {v: np.full(n, 1.0) for v in VARIANTS}
    gains["bridge"] = np.full(n, 4.0)  # every prompt doubled
    gains["bridge after last block"] = np.r_[np.full(n - 2, 4.0), np.ones(2)]  # nearly as many
    top1 = {v: np.zeros(n, dtype=bool) for v in VARIANTS}
    lines = composition_claims(Decomposition(gains, top1, {}, ()))
    assert lines[0].endswith("95% intervals apart: True")  # bridge 40 vs the other-answer control 0
    assert lines[3].endswith("95% intervals apart: False")  # bridge 40 vs the direct path 38
