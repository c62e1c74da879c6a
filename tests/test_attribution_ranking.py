"""Attribution objectives and rankings: each picks what it says, on constructed cases and the real engine."""

from __future__ import annotations

import numpy as np
import pytest

from cluster import Cluster, ClusterError, load_cluster, random_cluster
from cluster.attribution import answer_attributions, attribution_clusters_from_scores, find_attribution_clusters
from cluster.cli import main
from cluster.inputs import answer_token
from engine import Engine
from engine.interventions import Impair
from test_cluster_engine import tiny_prompts
from promptsets.schema import write_jsonl

WIDTH = 10  # 10% of a 10-unit layer is one unit: the top-ranked one


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


def _top_unit(attr: np.ndarray, labels: list[str], topic: str, **how) -> int:
    cluster = attribution_clusters_from_scores(attr, labels, 10, [topic], **how)[topic]
    assert cluster.size == 1
    return cluster.neurons[0][1]


def test_a_unit_that_lifts_every_answer_ranks_below_a_topic_specific_one_under_specific():
    """Unit 0 lifts every topic's answer by 5, unit 1 only the athlete's, by 2."""
    labels = ["athlete"] * 4 + ["artist"] * 4 + ["company"] * 4
    attr = np.zeros((12, 1, WIDTH), dtype=np.float32)
    attr[:, 0, 0] = 5.0
    attr[:4, 0, 1] = 2.0
    assert _top_unit(attr, labels, "athlete", rank="mean") == 0
    assert _top_unit(attr, labels, "athlete", rank="specific") == 1
    scores = attribution_clusters_from_scores(attr, labels, 10, ["athlete"], rank="specific")["athlete"].scores
    assert scores == pytest.approx((2.0,))


def test_balanced_ranking_weighs_each_answer_alike_not_each_prompt():
    """Nine prompts ask 'tennis' (unit 0 lifts it by 1), one asks 'golf' (unit 1 lifts it by 3)."""
    labels = ["athlete"] * 10 + ["artist"] * 2
    answers = [" tennis"] * 9 + [" golf"] + [" cubism"] * 2
    attr = np.zeros((12, 1, WIDTH), dtype=np.float32)
    attr[:9, 0, 0] = 1.0
    attr[9, 0, 1] = 3.0
    assert _top_unit(attr, labels, "athlete", rank="mean") == 0  # 0.9 against 0.3
    assert _top_unit(attr, labels, "athlete", rank="balanced", answers=answers) == 1  # 0.5 against 1.5


def test_rankings_refuse_what_they_cannot_rank():
    attr = np.zeros((4, 1, WIDTH), dtype=np.float32)
    with pytest.raises(ClusterError, match="balanced ranking needs each prompt's answer"):
        attribution_clusters_from_scores(attr, ["a"] * 4, 10, ["a"], rank="balanced")
    with pytest.raises(ClusterError, match="at least two topics"):
        attribution_clusters_from_scores(attr, ["a"] * 4, 10, ["a"], rank="specific")
    with pytest.raises(ClusterError, match="mean, balanced, specific"):
        attribution_clusters_from_scores(attr, ["a"] * 4, 10, ["a"], rank="median")


def test_contrast_is_the_answer_logit_minus_the_mean_of_the_other_topics_answers(engine):
    """To first order, shrinking a unit by eps moves (answer logit - mean rival logit) by eps x its attribution."""
    prompts = tiny_prompts()
    p = prompts[0]
    answer = answer_token(engine, p.answer, p.prompt)
    rivals = sorted({answer_token(engine, q.answer, q.prompt) for q in prompts if q.topic != p.topic} - {answer})
    assert rivals
    attr = answer_attributions(engine, prompts, objective="contrast")[0]

    def margin(logits) -> float:
        return float(logits[-1, answer] - logits[-1, rivals].mean())

    clean = margin(engine.run(p.prompt).logits)
    eps = 1e-2
    for flat in np.argsort(-np.abs(attr), axis=None)[:3]:
        layer, unit = np.unravel_index(flat, attr.shape)
        run = engine.run(p.prompt, (Impair(layer=int(layer), neurons=(int(unit),), mode="scale", intensity=1 - eps),))
        assert (clean - margin(run.logits)) / eps == pytest.approx(float(attr[layer, unit]), rel=0.05)
    logit = answer_attributions(engine, [p])[0]
    assert not np.allclose(attr, logit, atol=1e-4)  # the rivals' share was taken out


def test_contrast_needs_two_topics_and_bad_names_are_refused_before_any_work(engine):
    calls = []
    athletes = [p for p in tiny_prompts() if p.topic == "athlete"]
    with pytest.raises(ClusterError, match="at least two topics"):
        answer_attributions(engine, athletes, objective="contrast")
    for how, says in (({"objective": "gain"}, "logit, logprob, contrast"), ({"rank": "top"}, "mean, balanced")):
        with pytest.raises(ClusterError, match=says):
            find_attribution_clusters(engine, tiny_prompts(), 5, progress=lambda d, t: calls.append(d), **how)
    assert calls == []


def test_cli_finds_contrast_balanced_clusters(tiny_model_dir, tmp_path, capsys):
    write_jsonl(tmp_path / "prompts" / "keywords.jsonl", tiny_prompts())
    rc = main(["find", "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "prompts"), "--method",
               "attribution", "--objective", "contrast", "--rank", "balanced", "--percent", "5",
               "--out", str(tmp_path / "out")])
    assert rc == 0 and "artist" in capsys.readouterr().out
    engine = Engine.load(str(tiny_model_dir))
    saved = load_cluster(tmp_path / "out" / "artist.json", engine)
    direct = find_attribution_clusters(engine, tiny_prompts(), 5, objective="contrast", rank="balanced")["artist"]
    assert saved.neurons == direct.neurons and "contrast" in saved.detail and "balanced" in saved.detail


def test_random_baseline_clusters_are_drawn_from_all_units_of_the_same_layers():
    """Same count per layer, the same layers only, and every unit of those layers, the cluster's own included."""
    cluster = Cluster(name="c", neurons=tuple((layer, u) for layer in (0, 2) for u in range(4)), topic="athlete")
    seen: dict[int, set[int]] = {0: set(), 2: set()}
    for seed in range(60):
        drawn = random_cluster(cluster, 8, seed)
        assert drawn.counts(3).tolist() == [4, 0, 4]
        for layer, units in drawn.by_layer().items():
            seen[layer].update(units)
    assert seen == {0: set(range(8)), 2: set(range(8))}
