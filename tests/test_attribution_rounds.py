"""Attribution at every position and with units zeroed, and clusters grown in rounds: each is what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cluster import ClusterError, load_cluster
from cluster.attribution import answer_attributions, find_attribution_clusters, grow
from cluster.cli import main
from cluster.find import top_percent
from cluster.inputs import answer_token, select_split
from engine import Engine, InterventionError, OutOfRangeError
from engine.interventions import Impair
from test_cluster_engine import tiny_prompts
from promptsets.schema import write_jsonl

EPS = 1e-2


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


def _moved(engine, prompt, answer, unit, positions, zeroed=()) -> float:
    """How far shrinking ``unit`` by EPS at ``positions`` moves the answer logit, per EPS (with ``zeroed`` at zero)."""
    base = tuple(Impair(layer=l, neurons=tuple(u), mode="scale", intensity=0.0) for l, u in zeroed)
    clean = float(engine.run(prompt, base).logits[-1, answer]) if base else float(engine.run(prompt).logits[-1, answer])
    shrink = Impair(layer=int(unit[0]), neurons=(int(unit[1]),), mode="scale", intensity=1 - EPS, positions=positions)
    return (clean - float(engine.run(prompt, (*base, shrink)).logits[-1, answer])) / EPS


@pytest.mark.parametrize("positions", ["all", "last"])
def test_attribution_at_positions_is_the_first_order_effect_of_shrinking_a_unit_there(engine, positions):
    p = next(q for q in tiny_prompts() if len(engine.encode(q.prompt)) >= 3)
    answer = answer_token(engine, p.answer, p.prompt)
    attr = answer_attributions(engine, [p], positions=positions)[0]
    for flat in np.argsort(-np.abs(attr), axis=None)[:3]:
        unit = np.unravel_index(flat, attr.shape)
        assert _moved(engine, p.prompt, answer, unit, positions) == pytest.approx(float(attr[unit]), rel=0.05)
    other = answer_attributions(engine, [p], positions="last" if positions == "all" else "all")[0]
    assert not np.allclose(attr, other, atol=1e-4)  # earlier positions carry a share of their own


def test_attribution_with_units_zeroed_is_that_of_the_model_without_them(engine, tiny_model_dir):
    p = tiny_prompts()[0]
    answer = answer_token(engine, p.answer, p.prompt)
    clean = answer_attributions(engine, [p])[0]
    top = np.unravel_index(np.argsort(-clean, axis=None)[:4], clean.shape)
    zeroed = {}
    for layer, unit in zip(*top):
        zeroed.setdefault(int(layer), []).append(int(unit))
    attr = answer_attributions(engine, [p], zeroed=zeroed)[0]
    assert all(attr[layer, units].tolist() == [0.0] * len(units) for layer, units in zeroed.items())
    assert not np.allclose(attr, clean, atol=1e-4)
    for flat in np.argsort(-np.abs(attr), axis=None)[:3]:
        unit = np.unravel_index(flat, attr.shape)
        moved = _moved(engine, p.prompt, answer, unit, "all", tuple(zeroed.items()))
        assert moved == pytest.approx(float(attr[unit]), rel=0.05)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in engine.model.modules())
    unseen = "a prompt this engine has not run before"  # not in its cache: computed by the model as it is now
    torch.testing.assert_close(engine.run(unseen).logits, Engine.load(str(tiny_model_dir)).run(unseen).logits)


def test_rival_tokens_make_the_objective_a_logit_difference(engine):
    p = tiny_prompts()[0]
    ids, answer = engine.encode(p.prompt), answer_token(engine, p.answer, p.prompt)
    rivals = [answer_token(engine, q.answer, q.prompt) for q in tiny_prompts()[1:4]]
    got = engine.attribute([ids], [answer], against=[rivals])[0]
    each = [engine.attribute([ids], [t])[0] for t in (answer, *rivals)]
    expected = each[0] - sum(each[1:]) / len(rivals)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("how, error, says", [
    ({"positions": "first"}, InterventionError, "'last' or 'all'"),
    ({"zeroed": {99: [0]}}, OutOfRangeError, "layer 99"),
    ({"zeroed": {0: [10 ** 6]}}, OutOfRangeError, "units"),
    ({"against": [[]]}, InterventionError, "non-empty"),
    ({"against": [[1], [2]]}, InterventionError, "one non-empty list"),
])
def test_bad_attribution_options_are_refused_by_name(engine, how, error, says):
    with pytest.raises(error, match=says):
        engine.attribute([engine.encode("a b")], [1], **how)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in engine.model.modules())


def test_one_round_is_plain_top_percent():
    rng = np.random.default_rng(0)
    attr = rng.normal(size=(6, 3, 40))
    pairs, scores = grow(attr, None, lambda a: a.mean(axis=0), 10, 1)
    expected = top_percent(attr.mean(axis=0), 10)
    assert pairs == expected[0] and scores == pytest.approx(expected[1])


def test_rounds_find_a_backup_unit_that_one_shot_attribution_misses():
    """Unit 1 stores the answer a second time: it only matters once unit 0 is gone. One round ranks unit 2
    second; a second round, recomputed with unit 0 zeroed, takes unit 1."""
    first = np.zeros((1, 1, 10))
    first[0, 0, :3] = (5.0, 0.0, 1.0)
    seen = []

    def attribute(zeroed):
        seen.append(zeroed)
        attr = first.copy()
        if 0 in zeroed.get(0, []):
            attr[0, 0, :3] = (0.0, 5.0, 1.0)
        return attr

    one_shot, _ = grow(first, attribute, lambda a: a.mean(axis=0), 20, 1)
    grown, scores = grow(first, attribute, lambda a: a.mean(axis=0), 20, 2)
    assert one_shot == [(0, 0), (0, 2)] and grown == [(0, 0), (0, 1)] and scores == [5.0, 5.0]
    assert seen == [{0: [0]}]  # one recomputation, with exactly the first round's units zeroed
    with pytest.raises(ClusterError, match="recompute"):
        grow(first, None, lambda a: a.mean(axis=0), 20, 2)


def test_clusters_grown_in_rounds_count_their_passes_and_say_how_they_were_made(engine):
    calls = []
    clusters = find_attribution_clusters(engine, tiny_prompts(), 10, rounds=3, progress=lambda d, t: calls.append((d, t)))
    n = len(select_split(tiny_prompts(), "train"))
    total = n * (1 + len(clusters) * 2)
    assert {t for _, t in calls} == {total} and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted({d for d, _ in calls})  # it only moves forward
    k = round(engine.spec.d_mlp * 0.10)
    for c in clusters.values():
        assert c.counts(engine.spec.n_layers).tolist() == [k] * engine.spec.n_layers
        assert len(set(c.neurons)) == c.size and "grown in 3 rounds" in c.detail
    assert find_attribution_clusters(engine, tiny_prompts(), 10, rounds=1)["artist"].neurons != clusters["artist"].neurons
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ClusterError, match="rounds"):
            find_attribution_clusters(engine, tiny_prompts(), 10, rounds=bad)


def test_cli_grows_clusters_in_the_rounds_asked(tiny_model_dir, tmp_path, capsys):
    write_jsonl(tmp_path / "prompts" / "keywords.jsonl", tiny_prompts())
    rc = main(["find", "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "prompts"), "--method",
               "attribution", "--rounds", "2", "--percent", "5", "--out", str(tmp_path / "out")])
    assert rc == 0 and "athlete" in capsys.readouterr().out
    engine = Engine.load(str(tiny_model_dir))
    assert "grown in 2 rounds" in load_cluster(tmp_path / "out" / "athlete.json", engine).detail
