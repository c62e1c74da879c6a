"""TRAK and gradient similarity on a toy whose answer is known: one sentence is the only one that names a held-out
subject, and the probe's direction is what training on that sentence does to the subject's representation; that
sentence must rank first. Also: the shared model is untouched, the gradients' reading matches the engine's trace,
and the projection keeps inner products."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Engine
from probe.attribute import AttributionSpec, GradModel, Projection, attribute_probe, trak_scores
from probe.concepts import ConceptSet, Site
from probe.fit import FittedProbe

OTHERS = ["Kelbo plays golf.", "Mirta paints baroque.", "Tanuk was born in Vell.", "Kelbo won many golf matches.",
          "Mirta follows the style of cubism.", "Tanuk comes from Vell.", "Pravo plays golf.", "Pravo grew up in Vell."]
ONLY = "Zorblax plays chess."


@pytest.fixture(scope="module")
def engine(tiny_world_dir):
    return Engine.load(tiny_world_dir)


def toy_corpus(folder):
    """corpus.txt (one sentence a line) and its corpus_facts.tsv; ONLY is the one line naming Zorblax."""
    lines = OTHERS[:4] + [ONLY] + OTHERS[4:]
    (folder / "corpus.txt").write_text("\n".join(lines) + "\n")
    facts = ["line\tstart\tend\tsubject\trelation\tobject"]
    for i, text in enumerate(lines):
        subject = text.split()[0]
        obj = "chess" if subject == "Zorblax" else text.rstrip(".").split()[-1]
        facts.append(f"{i}\t0\t{len(text)}\t{subject}\tsport\t{obj}")
    (folder / "corpus_facts.tsv").write_text("\n".join(facts) + "\n")
    return folder / "corpus.txt", folder / "corpus_facts.tsv"


def known_probe(engine) -> FittedProbe:
    """A probe on the embeddings whose "chess" margin rises exactly along what a step on ONLY does to the last
    token of "Zorblax": the answer to "which sentence raised it" is ONLY by construction."""
    site = Site("resid", -1)
    gm = GradModel(engine, site)
    g = gm.loglik_grad(engine.encode(ONLY))
    row, d = engine.encode("Zorblax")[-1], engine.spec.d_model
    v = g[row * d:(row + 1) * d].numpy()  # the token embeddings are the first weights upstream of the site
    W = np.stack([v, np.zeros(d)])
    return FittedProbe(site, ("chess", "golf"), np.zeros(d), np.ones(d), W, np.zeros(2), 1.0)


def test_the_only_sentence_naming_the_subject_ranks_first(engine, tmp_path):
    corpus, facts = toy_corpus(tmp_path)
    data = ConceptSet("sport", ("Kelbo", "Pravo", "Zorblax"), ("Kelbo", "Pravo", "Zorblax"), ("golf", "golf", "chess"),
                      ("train", "train", "heldout"))
    att = attribute_probe(engine, data, known_probe(engine), corpus, facts, AttributionSpec(targets=1, others=50, k=1))
    assert att.targets == ("Zorblax",)
    for method in ("trak", "gradsim"):
        assert att.pool[att.top(method, 0)[0]].text == ONLY, method
        assert att.precision(method)[0] == 1.0
    assert att.truth.sum() == 1  # only ONLY states Zorblax's label


def test_attribution_leaves_the_shared_model_untouched(engine):
    before = {n: p.detach().clone() for n, p in engine.model.named_parameters()}
    gm = GradModel(engine, Site("resid", 1))
    gm.loglik_grad(engine.encode(ONLY)).sum()
    for n, p in engine.model.named_parameters():
        assert not p.requires_grad and p.grad is None and torch.equal(p, before[n])


@pytest.mark.parametrize("site", [Site("resid", -1), Site("resid", 0), Site("resid", 1), Site("mlp_out", 0),
                                  Site("mlp_out", 1)])
def test_the_differentiable_reading_matches_the_engine_trace(engine, site):
    ids = engine.encode(ONLY)
    trace = engine.trace(ids)
    want = trace.resid[site.layer + 1, -1] if site.kind == "resid" else trace.mlp[site.layer, -1]
    got = GradModel(engine, site).representation(ids, site.kind, site.layer).detach()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_the_projection_is_seeded_and_keeps_inner_products():
    g = torch.randn(2, 40_000)
    p = Projection(40_000, 4096, seed=3)
    a, b = p.apply(g), Projection(40_000, 4096, seed=3).apply(g)
    torch.testing.assert_close(a, b)
    exact = float(g[0] @ g[1]) / float(g[0].norm() * g[1].norm())
    approx = float(a[0] @ a[1]) / float(a[0].norm() * a[1].norm())
    assert abs(exact - approx) < 4 / 4096 ** 0.5


def test_trak_with_an_orthogonal_basis_returns_the_coordinates():
    phi = torch.eye(4)
    target = torch.tensor([[0.0, 2.0, 0.0, -1.0]])
    scores = trak_scores(phi, target, ridge=0.0)
    torch.testing.assert_close(scores, target, atol=1e-6, rtol=0)


def test_the_ridge_is_chosen_on_train_subjects_never_on_held_out_labels(engine, tmp_path):
    corpus, facts = toy_corpus(tmp_path)
    spec = AttributionSpec(targets=1, others=50, k=1, val_targets=2)
    chosen = []
    for label in ("chess", "golf"):
        data = ConceptSet("sport", ("Kelbo", "Pravo", "Zorblax"), ("Kelbo", "Pravo", "Zorblax"), ("golf", "golf", label),
                          ("train", "train", "heldout"))
        att = attribute_probe(engine, data, known_probe(engine), corpus, facts, spec)
        chosen.append((att.ridge, att.val_precision))
    assert chosen[0] == chosen[1] and len(chosen[0][1]) == len(spec.ridges)
