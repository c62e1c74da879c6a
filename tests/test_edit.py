"""Fact edits on the demo world: each method rewrites the fact per run, and the scores are exact."""

from __future__ import annotations

import math

import pytest
import torch

from edit import (EditSpec, EditSpecError, Fact, apply_edit, demo_cases, heldout_texts, paraphrases,
                  score_edit)
from edit.score import general_damage
from edit.spec import answer_token_id
from engine import Engine, WeightDelta
from promptsets.paths import DEMO_DIR

KEY_TEXTS = tuple((DEMO_DIR / "corpus.txt").read_text(encoding="utf-8").splitlines()[:60])


@pytest.fixture(scope="module")
def eng() -> Engine:
    return Engine.load(DEMO_DIR)


@pytest.fixture(scope="module")
def cases():
    return demo_cases(6, seed=0)


def _top(eng: Engine, prompt: str, interventions=()) -> str:
    return eng.token_strs([int(eng.run(prompt, interventions).probs_mean.argmax())])[0]


@pytest.mark.parametrize("method", ["rank_one", "low_rank", "finetune", "interp"])
def test_every_method_rewrites_the_fact_only_in_the_edited_run(eng, cases, method):
    case = cases[1]  # a demo sport fact edited to another sport
    weights = [p.detach().clone() for p in eng.model.parameters()]
    result = apply_edit(eng, case.fact, EditSpec(method=method, layer=1, rank=2), KEY_TEXTS)
    assert _top(eng, case.fact.prompt, [result.delta]) == case.fact.new
    assert _top(eng, case.fact.prompt) == case.fact.answer  # the unedited run, right after
    assert all(torch.equal(a, b) for a, b in zip(weights, eng.model.parameters()))
    assert all(p.grad is None for p in eng.model.parameters())
    expected_rank = {"rank_one": 1, "low_rank": 2}.get(method, eng.spec.d_model)
    assert result.delta.rank == expected_rank and result.delta.layer == 1


def test_one_layer_interpolation_spans_original_to_finetuned(eng, cases):
    fact = cases[0].fact
    tid = answer_token_id(eng, fact.new, fact.prompt)
    spec = EditSpec(method="interp", layer=1, steps=20)
    p = {a: float(eng.run(fact.prompt, [apply_edit(eng, fact, EditSpec(**{**spec.__dict__, "alpha": a})).delta])
                  .probs_mean[tid]) for a in (0.0, 0.5, 1.0)}
    assert p[0.0] == pytest.approx(float(eng.run(fact.prompt).probs_mean[tid]), abs=1e-6)
    assert p[0.0] < p[0.5] < p[1.0]


def test_scores_of_a_rank_one_edit(eng, cases):
    case = cases[0]
    result = apply_edit(eng, case.fact, EditSpec(method="rank_one", layer=1), KEY_TEXTS)
    scores = score_edit(eng, case, result.delta, heldout_texts(8))
    assert scores.efficacy == 1.0 and scores.efficacy_p >= 0.9
    assert scores.generalisation >= 2 / 3  # the fact moved in most of its other templates too
    assert scores.specificity >= 0.75  # most other subjects keep their answer
    assert abs(scores.damage) < 0.05
    kinds = [r.kind for r in scores.rows]
    assert kinds.count("paraphrase") == len(case.paraphrases) and kinds.count("neighbour") == len(case.neighbours)
    edit_row = scores.rows[0]
    assert edit_row.p_before < 0.05 < 0.9 <= edit_row.p_after and edit_row.top_before == case.fact.answer


def test_a_delta_of_scale_zero_does_no_damage(eng, cases):
    result = apply_edit(eng, cases[0].fact, EditSpec(method="low_rank", layer=2))
    zero = WeightDelta(result.delta.layer, result.delta.rank, result.delta.left, result.delta.right, 0.0)
    assert general_damage(eng, zero, heldout_texts(4)) == pytest.approx(0.0, abs=1e-6)
    assert general_damage(eng, result.delta, heldout_texts(4)) != 0.0
    assert math.isnan(general_damage(eng, result.delta, ()))


def test_demo_cases_are_exact_about_the_world():
    cases = demo_cases(12, seed=3)
    assert len(cases) == 12 and len({c.fact.relation for c in cases}) == 6
    for case in cases:
        assert case.fact.new != case.fact.answer and case.fact.subject in case.fact.prompt
        assert all(case.fact.subject in p for p in case.paraphrases)
        assert all(prompt.split()[0] != case.fact.subject for prompt, _ in case.neighbours)
    assert paraphrases("birthplace", "Lilan") == ("Lilan grew up in", "The hometown of Lilan is", "Lilan comes from")
    assert demo_cases(12, seed=3) == cases


def test_heldout_texts_are_new_documents():
    corpus = set((DEMO_DIR / "corpus.txt").read_text(encoding="utf-8").splitlines())
    texts = heldout_texts(20)
    assert len(set(texts)) == 20 and not corpus & set(texts)
    assert heldout_texts(20) == texts


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="rome"), "choose one of rank_one"), (dict(rank=0), "rank"), (dict(alpha=1.5), "alpha"),
    (dict(steps=0), "steps"), (dict(target_p=1.0), "target_p"), (dict(key="first"), "key position"),
])
def test_bad_specs_say_how_to_fix_them(kwargs, match):
    with pytest.raises(EditSpecError, match=match):
        EditSpec(**kwargs)


def test_bad_facts_say_how_to_fix_them(eng):
    with pytest.raises(EditSpecError, match="must appear in the prompt"):
        Fact("Dadon plays", "Zodro", " golf")
    with pytest.raises(EditSpecError, match="leading space"):
        Fact("Dadon plays", "Dadon", " ")
    with pytest.raises(EditSpecError, match="already says"):
        Fact("Dadon plays", "Dadon", " golf", answer=" golf")
    with pytest.raises(Exception, match="layers 0-3"):
        apply_edit(eng, Fact("Dadon plays", "Dadon", " tennis"), EditSpec(layer=7))
