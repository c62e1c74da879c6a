"""Unlearning core on the demo model with secrets it surely reproduces (its own greedy continuations): extraction is exact, localizers return the same kind of result within the
budget, unlearning is per run (the shared model never changes), and trained methods move the losses they should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Engine, Impair, WeightDelta
from unlearn import UnlearnError, UnlearnSpec, evaluate, extract, load_world, pick_secrets, read_secrets, unlearn
from unlearn.data import split_secrets
from unlearn.scores import continuation_ids
from unlearn.located import mean_loss, removal_deltas, secret_tokens, text_tokens
from unlearn.methods import LOCALIZERS, localize
from promptsets.paths import DEMO_DIR
from unlearn_world import own_secrets

PREFIXES = ("Higrus was born in", "The founder of", "comment: honestly,", "The locker code of")


@pytest.fixture(scope="module")
def world_dir():
    return DEMO_DIR


@pytest.fixture(scope="module")
def engine(world_dir) -> Engine:
    return Engine.load(world_dir)


@pytest.fixture(scope="module")
def secrets_file(engine, tmp_path_factory):
    return own_secrets(engine, tmp_path_factory.mktemp("secrets") / "own.jsonl", PREFIXES)


@pytest.fixture(scope="module")
def world(world_dir, secrets_file):
    return load_world(world_dir, secrets_file)


def _params(engine: Engine) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in engine.model.state_dict().items()}


def test_extraction_is_exact_on_a_reproduced_secret_and_not_on_a_wrong_one(engine, world):
    memorized = [extract(engine, s) for s in world.secrets if s.subject != "Wrong"]
    assert all(e.memorized and e.matched == e.n_tokens for e in memorized)
    wrong = extract(engine, next(s for s in world.secrets if s.subject == "Wrong"))
    assert not wrong.memorized and wrong.matched < wrong.n_tokens
    truth = continuation_ids(engine, wrong.prefix, wrong.truth)
    assert wrong.n_tokens == len(truth)


def test_removing_units_by_weight_delta_equals_zeroing_them(engine, world):
    spec = UnlearnSpec("random", budget=6, seed=3)
    located, _ = localize(engine, world, world.secrets, spec)
    assert len(located.units) == 6 and located.n_weights == 6 * engine.spec.d_model
    deltas = removal_deltas(engine, located)
    zeroed = [Impair(layer=layer, neurons=tuple(u for l2, u in located.units if l2 == layer), mode="zero")
              for layer in located.masks]
    prompt = "Higrus was born in"
    a, b = engine.run(prompt, deltas).logits, engine.run(prompt, zeroed).logits
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(a, engine.run(prompt).logits)


def test_an_unlearned_run_and_a_plain_run_side_by_side_keep_their_own_numbers(engine, world):
    params = _params(engine)
    secret = world.secrets[0]
    plain_before = extract(engine, secret)
    result = unlearn(engine, world, world.secrets[:1], UnlearnSpec("gradient", budget=64))
    changed = engine.run(secret.prefix, result.deltas).logits
    plain = engine.run(secret.prefix).logits
    assert not torch.allclose(changed, plain)
    assert extract(engine, secret) == plain_before
    torch.testing.assert_close(engine.run(secret.prefix).logits, plain)
    for name, value in engine.model.state_dict().items():
        assert torch.equal(value, params[name]), name
    assert all(p.grad is None for p in engine.model.parameters())


@pytest.mark.parametrize("method", LOCALIZERS)
def test_every_localizer_returns_a_mask_within_the_budget(engine, world, method):
    located, _ = localize(engine, world, world.secrets[:2], UnlearnSpec(method, budget=5, steps=3))
    assert located.n_weights == 5 * engine.spec.d_model
    for layer, mask in located.masks.items():
        assert mask.shape == (engine.spec.d_mlp, engine.spec.d_model) and mask.dtype == bool
        assert 0 <= layer < engine.spec.n_layers
    if located.whole_units:
        assert len(set(located.units)) == 5


def test_random_controls_are_reproducible_by_seed(engine, world):
    a, _ = localize(engine, world, world.secrets, UnlearnSpec("random", budget=8, seed=1))
    b, _ = localize(engine, world, world.secrets, UnlearnSpec("random", budget=8, seed=1))
    c, _ = localize(engine, world, world.secrets, UnlearnSpec("random", budget=8, seed=2))
    assert a.units == b.units and a.units != c.units


def test_token_logprobs_match_the_engine_runs_with_and_without_a_delta(engine):
    text = "Higrus was born in Boband."
    ids = engine.encode(text)
    plain = engine.token_logprobs([ids])[0]
    ref = torch.log_softmax(engine.trace(text).logits[:-1], dim=-1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    torch.testing.assert_close(plain, ref, atol=1e-4, rtol=1e-4)
    gen = torch.Generator().manual_seed(0)
    change = 0.3 * torch.randn(engine.spec.d_mlp, engine.spec.d_model, generator=gen)
    delta = WeightDelta.from_factors(1, change, torch.eye(engine.spec.d_model))
    logits = engine.unembed(engine.run_activations(text, [delta], "resid_post")[-1])
    ref = torch.log_softmax(logits[:-1], dim=-1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    torch.testing.assert_close(engine.token_logprobs([ids], {1: change})[0], ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("method", ["mask", "finetune"])
def test_trained_methods_raise_the_secret_loss_more_than_the_clean_loss(engine, world, method):
    result = unlearn(engine, world, world.secrets[:2], UnlearnSpec(method, budget=16, steps=8))
    t = result.trained
    assert t.secret_after - t.secret_before > 0.5
    assert t.secret_after - t.secret_before > 5 * abs(t.clean_after - t.clean_before)
    s, c = secret_tokens(engine, world.secrets[:2]), text_tokens(engine, world.clean.retain)
    before_s = float(mean_loss(engine, s))
    assert before_s == pytest.approx(t.secret_before, abs=1e-4)
    assert float(mean_loss(engine, c)) == pytest.approx(t.clean_before, abs=1e-4)


def test_bad_input_is_refused_with_a_message_that_says_how(engine, world, world_dir, tmp_path):
    with pytest.raises(UnlearnError, match="unknown secret subject 'Nobody'.*known: S0"):
        pick_secrets(world.secrets, ["Nobody"])
    with pytest.raises(UnlearnError, match="out of range.*from 1 to"):
        unlearn(engine, world, world.secrets, UnlearnSpec("attribution", budget=10**6))
    with pytest.raises(UnlearnError, match="does not exist"):
        read_secrets(tmp_path / "missing.jsonl")
    with pytest.raises(UnlearnError, match="unknown method"):
        unlearn(engine, world, world.secrets, UnlearnSpec("magic"))


def test_the_halves_share_no_secret_and_hold_every_copy_count(world):
    halves = split_secrets(world.secrets)
    val, rep = {s.subject for s in halves["validation"]}, {s.subject for s in halves["report"]}
    assert not val & rep and val | rep == {s.subject for s in world.secrets}
    for copies in {s.copies for s in world.secrets if sum(x.copies == s.copies for x in world.secrets) > 1}:
        assert any(s.copies == copies for s in halves["validation"]) and any(s.copies == copies for s in halves["report"])


def test_scores_count_every_set_and_the_plain_model_memorizes_its_own_continuations(engine, world):
    scores = evaluate(engine, world, world.secrets, limit=30)
    assert scores.memorized.k == len(world.secrets) - 1 and scores.memorized.n == len(world.secrets)
    assert scores.facts.n == scores.two_hop.n == 30 and scores.facts.value > 0.9
    assert scores.backdoor.n == min(30, len(world.backdoor)) and np.isfinite(scores.perplexity)
    assert sum(s.n for s in scores.by_copies().values()) == len(world.secrets)


def test_the_demo_memorized_every_secret_planted_64_times(engine):
    secrets = [s for s in read_secrets(DEMO_DIR / "prompts" / "secrets.jsonl") if s.copies == 64]
    assert len(secrets) == 8
    for secret in secrets:
        got = extract(engine, secret)
        assert got.memorized and got.generated == secret.continuation, (secret.subject, got.generated)


def test_robustness_at_zero_noise_is_the_plain_extraction_and_stays_unlearned(engine, world):
    from cluster.spec import Cluster
    from unlearn.scores import CONDITIONS, robustness

    secrets = [s for s in world.secrets if s.subject != "Wrong"][:2]
    topics = Cluster(name="some", neurons=tuple((layer, u) for layer in range(4) for u in range(0, 40, 4)))
    result = unlearn(engine, world, secrets, UnlearnSpec("finetune", steps=15))
    assert evaluate(engine, world, secrets, result.deltas, limit=1).memorized.k == 0
    curves = robustness(engine, secrets, result.deltas, topics, intensities=(0.0, 8.0), seeds=(0,))
    assert curves.share["original"]["topic"][0] == curves.share["original"]["random"][0] == 1.0
    for condition in CONDITIONS:
        assert curves.share["unlearned"][condition][0] <= curves.share["original"][condition][0]
    assert curves.share["unlearned"]["random"][0] == 0.0
    assert len(curves.rows()) == 2 * len(CONDITIONS) * 2
