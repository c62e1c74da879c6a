"""Edits judged like for like (bench/edit.py): own-relation clusters, paired halving figures, honest verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edit.score import own_cluster_relations, relation_topics
from edit.sweep import paired_summaries, paired_verdicts
from promptsets.paths import DEMO_CLUSTERS, DEMO_PROMPTS


def _rows(edited, learned, label="m", edited_random=None, learned_random=None) -> list[dict]:
    n = len(edited)
    er = edited_random if edited_random is not None else [1.0] * n
    lr = learned_random if learned_random is not None else [1.0] * n
    return [dict(label=label, efficacy_p=0.99, halving_edited=e, halving_learned=l_, halving_edited_random=a,
                 halving_learned_random=b) for e, l_, a, b in zip(edited, learned, er, lr)]


def test_a_relation_is_judged_only_by_the_cluster_of_its_own_objects():
    topics = {"athlete": {" football", " tennis"}, "artist": {" cubism"}}
    relations = {"sport": {" football", " tennis"}, "style": {" cubism"}, "birthplace": {" Paris"}}
    assert relation_topics(topics, relations) == {"sport": "athlete", "style": "artist"}


def test_the_demo_has_three_relations_with_a_cluster_of_their_own():
    owned, orphans = own_cluster_relations(DEMO_PROMPTS, DEMO_CLUSTERS)
    assert owned == {"sport": "athlete", "style": "artist", "industry": "company"}
    assert {"birthplace", "based_in"} <= set(orphans)


def test_pairs_are_per_prompt_and_censored_at_the_grid_top():
    rows = _rows([2.0, 3.0, math.inf, 4.0], [3.0, 3.0, 5.0, math.nan])
    (s,) = paired_summaries(rows, top=6.0)
    assert s.n == 3  # the nan pair is dropped, both sides alike
    assert s.diff == pytest.approx(0.0)  # differences -1, 0, +1 (inf counts as 6)
    assert s.censored == (1, 0) and s.diff_ci[0] <= s.diff <= s.diff_ci[1]


def test_learned_under_random_clusters_is_reported_beside_edited():
    rows = _rows([3.0] * 5, [3.0] * 5, edited_random=[4.0] * 5, learned_random=[5.5] * 5)
    (s,) = paired_summaries(rows, top=6.0)
    assert (s.edited_random, s.learned_random, s.diff_random) == (4.0, 5.5, -1.5)


def test_verdicts_follow_the_interval_not_the_point():
    fragile = _rows(list(np.linspace(1, 2, 30)), list(np.linspace(4, 5, 30)), label="fragile")
    same = _rows([3.0, 4.0, 3.0, 4.0] * 5, [4.0, 3.0, 3.0, 4.0] * 5, label="same")
    lines = paired_verdicts(paired_summaries(fragile + same, top=6.0))
    assert lines[0].startswith("fragile: edited facts halve at lower noise")
    assert lines[1].startswith("same: no paired difference shown")
