"""Concept probes: intervals, the concepts file's checks, probes that find a planted concept and never look at
held-out labels to tune, the L1 path, and (on the shipped demo) a concept the model surely knows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probe.concepts import ConceptSet, ProbeError, Site, check_site, load_concept, wilson
from probe.fit import appears_at, l1_path, majority, probe_concept, probe_features, score_sites, units_for
from promptsets.paths import DEMO_DIR


def test_wilson_interval_contains_the_share_and_narrows_with_n():
    lo, hi = wilson(5, 10)
    assert lo < 0.5 < hi and abs((0.5 - lo) - (hi - 0.5)) < 1e-12
    assert wilson(0, 10)[0] == 0.0 and 0.2 < wilson(0, 10)[1] < 0.35
    assert wilson(50, 100)[1] - wilson(50, 100)[0] < hi - lo


def write_concepts(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def row(concept, label, subject, split):
    return {"concept": concept, "label": label, "prompt": subject, "subject": subject, "split": split}


@pytest.mark.parametrize("rows, words", [
    ([row("sport", "golf", "A", "train"), row("sport", "golf", "B", "heldout")], "one label"),
    ([row("sport", "golf", "A", "train"), row("sport", "chess", "A", "heldout")], "in both splits"),
    ([row("sport", "golf", "A", "train"), row("sport", "chess", "B", "train")], "no 'heldout'"),
    ([row("role", "x", "A", "train"), row("role", "y", "B", "heldout")], "no concept 'sport'"),
])
def test_unusable_concepts_are_refused_saying_why(tmp_path, rows, words):
    with pytest.raises(ProbeError, match=words):
        load_concept(write_concepts(tmp_path / "c.jsonl", rows), "sport")


def test_a_missing_or_broken_file_is_refused(tmp_path):
    with pytest.raises(ProbeError, match="no concepts file"):
        load_concept(tmp_path / "nope.jsonl", "sport")
    (tmp_path / "bad.jsonl").write_text('{"concept": "sport"}\n')
    with pytest.raises(ProbeError, match="lacks label"):
        load_concept(tmp_path / "bad.jsonl", "sport")


def test_a_layer_the_model_lacks_is_refused_with_its_range():
    with pytest.raises(ProbeError, match="layers -1-3"):
        check_site("resid", 4, 4)
    with pytest.raises(ProbeError, match="layers 0-3"):
        check_site("mlp_out", -1, 4)
    assert check_site("resid", -1, 4) == Site("resid", -1)


def planted(n=160, d=16, seed=0, unit=3):
    """Subjects whose label is the sign of one unit at layer 1 (layer 0 is noise); half train, half held out."""
    rng = np.random.default_rng(seed)
    labels = np.array(["yes", "no"])[(rng.random(n) < 0.5).astype(int)]
    x1 = rng.normal(size=(n, d))
    x1[:, unit] = np.where(labels == "yes", 1.5, -1.5) + 0.3 * rng.normal(size=n)
    data = ConceptSet("c", tuple(f"s{i}" for i in range(n)), tuple(f"s{i}" for i in range(n)), tuple(labels),
                      tuple("train" if i % 2 else "heldout" for i in range(n)))
    return data, {Site("resid", 0): rng.normal(size=(n, d)), Site("resid", 1): x1}


def test_probes_find_the_planted_layer_and_shuffled_labels_do_not():
    data, feats = planted()
    report = probe_features(data, feats)
    noise, signal = report.score(Site("resid", 0)), report.score(Site("resid", 1))
    assert signal.acc > 0.95 and signal.lo > report.majority_hi
    assert noise.lo <= report.majority_hi and signal.shuffled_hi < signal.lo
    assert report.appears == Site("resid", 1) and report.best == Site("resid", 1)


def test_held_out_labels_never_tune_the_probe():
    data, feats = planted()
    _, probes = score_sites(data, feats)
    flipped = tuple(("no" if y == "yes" else "yes") if s == "heldout" else y for y, s in zip(data.labels, data.splits))
    _, again = score_sites(ConceptSet(data.concept, data.prompts, data.subjects, flipped, data.splits), feats)
    for site in feats:
        assert probes[site].C == again[site].C
        np.testing.assert_array_equal(probes[site].W, again[site].W)


def test_the_l1_path_needs_one_unit_for_a_one_unit_concept():
    data, feats = planted()
    path = l1_path(data, feats[Site("resid", 1)])
    assert [p.units for p in path] == sorted(p.units for p in path) and path[-1].units > 1
    label, acc, lo, hi = majority(data)
    assert units_for(path, 0.9, acc) == 1


def test_appears_at_is_none_when_no_layer_clears_the_majority():
    data, feats = planted()
    report = probe_features(data, {Site("resid", 0): feats[Site("resid", 0)]}, 0)
    assert appears_at(list(report.scores), report.majority_hi) is None and report.appears is None


def test_on_the_demo_role_is_read_far_above_the_majority_at_every_layer():
    concepts = DEMO_DIR / "prompts" / "concepts.jsonl"
    assert concepts.is_file(), "the demo's prompt sets must include concepts.jsonl (world v3)"
    from engine import Engine

    report = probe_concept(Engine.load(DEMO_DIR), concepts, "role")
    assert report.appears is not None
    for s in report.scores:
        assert s.lo > report.majority_hi and s.acc > s.shuffled_hi, s
