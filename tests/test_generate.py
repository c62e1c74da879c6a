"""Engine.generate: the KV-cache loop equals full forwards token for token, with and without
interventions; sampling is seeded per call; no hook or state leaks between runs or threads."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import Ablate, Engine, GenerationError, Impair, Inject, NonFiniteError, PromptTooLongError, WeightDelta
from engine.interventions import generation_positions
from promptsets.paths import DEMO_DIR
from tinystories import TINYSTORIES, requires_tinystories

PROMPT = "The founder of Zentrix was"


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def interventions(engine: Engine) -> dict[str, tuple]:
    """One intervention of each kind, strong enough to change a random tiny model's continuation."""
    spec, rng = engine.spec, np.random.default_rng(0)
    vector = tuple(float(v) for v in rng.normal(size=spec.d_model) * 3)
    left, right = rng.normal(size=(spec.d_mlp, 2)), rng.normal(size=(2, spec.d_model))
    return {
        "scale-all": (Impair(1, tuple(range(spec.d_mlp // 2)), "scale", 3.0),),
        "zero-last": (Impair(0, tuple(range(spec.d_model)), "zero", site="mlp_out", positions="last"),),
        "inject-all": (Inject(1, vector, 2.0),),
        "inject-first": (Inject(0, vector, 2.0, positions=(0, 1)),),
        "ablate": (Ablate(2, 1),),
        "delta": (WeightDelta.from_factors(1, left, right, 0.5),),
    }


def hf_greedy(engine: Engine, prompt: str, n: int) -> list[int]:
    """The model's own full forward, rerun over the whole sequence for each new token."""
    ids = engine.encode(prompt)
    new = []
    with engine.lock, torch.no_grad():
        for _ in range(n):
            logits = engine.model(torch.tensor([ids + new])).logits[0, -1]
            new.append(int(torch.argmax(logits)))
    return new


def naive_greedy(engine: Engine, prompt: str, items: tuple, n: int) -> list[int]:
    """Full hooked forwards (Engine.run_full), each with the interventions at the positions generation gives them."""
    ids = engine.encode(prompt)
    total, new = len(ids) + n, []
    for _ in range(n):
        m = len(ids) + len(new)
        placed = tuple(replace(i, positions=tuple(p for p in generation_positions(i.positions, len(ids), total) if p < m))
                       if isinstance(i, (Impair, Inject)) else i for i in items)
        new.append(int(torch.argmax(engine.run_full(ids + new, placed).logits[0])))
    return new


def no_hooks(engine: Engine) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in engine.model.modules())


def test_greedy_equals_the_models_full_forward_in_every_family(tiny_family_dir):
    family, folder = tiny_family_dir
    engine = Engine.load(folder)
    got = engine.generate(PROMPT, max_new_tokens=12)
    assert list(got.new_ids) == hf_greedy(engine, PROMPT, len(got.new_ids)), family
    assert got.prompt_ids == tuple(engine.encode(PROMPT))
    assert no_hooks(engine)


@pytest.mark.parametrize("kind", ["scale-all", "zero-last", "inject-all", "inject-first", "ablate", "delta"])
def test_greedy_under_an_intervention_equals_full_forwards_with_it(tiny, kind):
    items = interventions(tiny)[kind]
    got = tiny.generate(PROMPT, items, max_new_tokens=10)
    assert list(got.new_ids) == naive_greedy(tiny, PROMPT, items, len(got.new_ids)), kind
    if kind in ("scale-all", "zero-last", "inject-all", "delta"):  # strong enough to change the text
        assert got.new_ids != tiny.generate(PROMPT, max_new_tokens=10).new_ids
    assert no_hooks(tiny)


def test_every_family_under_interventions(tiny_family_dir):
    family, folder = tiny_family_dir
    engine = Engine.load(folder)
    for kind, items in interventions(engine).items():
        got = engine.generate(PROMPT, items, max_new_tokens=8)
        assert list(got.new_ids) == naive_greedy(engine, PROMPT, items, len(got.new_ids)), (family, kind)


def test_the_first_token_is_what_run_predicts(tiny):
    items = interventions(tiny)["zero-last"]
    first = tiny.generate(PROMPT, items, max_new_tokens=1).new_ids[0]
    assert first == int(torch.argmax(tiny.run(PROMPT, items).logits[0]))


def test_sampling_is_seeded_per_call_and_leaves_the_global_rng_alone(tiny):
    state = torch.get_rng_state()
    a = tiny.generate(PROMPT, max_new_tokens=16, temperature=1.5, seed=1)
    torch.manual_seed(123)  # the caller's global seed must not matter
    b = tiny.generate(PROMPT, max_new_tokens=16, temperature=1.5, seed=1)
    c = tiny.generate(PROMPT, max_new_tokens=16, temperature=1.5, seed=2)
    assert a == b and a.new_ids != c.new_ids
    torch.set_rng_state(state)
    before = torch.get_rng_state()
    tiny.generate(PROMPT, max_new_tokens=4, temperature=1.0, top_k=5, seed=3)
    assert torch.equal(before, torch.get_rng_state())


def test_top_k_one_is_greedy(tiny):
    assert tiny.generate(PROMPT, max_new_tokens=10, temperature=2.0, top_k=1, seed=5).new_ids == \
        tiny.generate(PROMPT, max_new_tokens=10).new_ids


def test_noise_is_reproducible_and_changes_the_text(tiny):
    noise = (Impair(1, tuple(range(tiny.spec.d_mlp)), "noise", 8.0, seed=4),)
    a, b = tiny.generate(PROMPT, noise, max_new_tokens=10), tiny.generate(PROMPT, noise, max_new_tokens=10)
    assert a == b and a.new_ids != tiny.generate(PROMPT, max_new_tokens=10).new_ids


def test_two_threads_with_different_interventions_get_their_own_continuations(tiny):
    kinds = interventions(tiny)
    alone = {k: tiny.generate(PROMPT, kinds[k], max_new_tokens=8).new_ids for k in ("inject-all", "delta")}
    seen: dict[str, list] = {k: [] for k in alone}

    def work(kind: str) -> None:
        for _ in range(10):
            seen[kind].append(tiny.generate(PROMPT, kinds[kind], max_new_tokens=8).new_ids)

    threads = [threading.Thread(target=work, args=(k,)) for k in alone]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for kind, runs in seen.items():
        assert runs == [alone[kind]] * 10, kind
    assert no_hooks(tiny)


def test_bad_settings_are_refused_before_any_hook(tiny):
    with pytest.raises(PromptTooLongError, match="at most"):
        tiny.generate(PROMPT, max_new_tokens=tiny.spec.n_ctx)
    with pytest.raises(GenerationError, match="mode='zero'"):
        tiny.generate(PROMPT, (Ablate(0, 0, "mean"),))
    for bad in ({"temperature": -1.0}, {"temperature": float("nan")}, {"top_k": 0}, {"max_new_tokens": 0}):
        with pytest.raises(GenerationError):
            tiny.generate(PROMPT, **bad)
    assert no_hooks(tiny)


@requires_tinystories
def test_tinystories_continues_once_upon_a_time_as_the_model_does():
    engine = Engine.load(TINYSTORIES)
    got = engine.generate("Once upon a time", max_new_tokens=24)
    ids = torch.tensor([engine.encode("Once upon a time")])
    with engine.lock, torch.no_grad():
        reference = engine.model.generate(ids, max_new_tokens=24, do_sample=False)[0, ids.shape[1]:]
    assert list(got.new_ids) == reference.tolist()[:len(got.new_ids)]
    assert "little girl named Lily" in got.text and got.text.count(" ") >= 15, got.text


def test_generation_stops_after_eos_unless_told_not_to():
    demo = Engine.load(DEMO_DIR)
    eos = demo.tokenizer.eos_token_id
    full = demo.generate("Higrus plays", max_new_tokens=30, stop_at_eos=False)
    assert len(full.new_ids) == 30 and eos in full.new_ids
    stopped = demo.generate("Higrus plays", max_new_tokens=30)
    assert stopped.new_ids == full.new_ids[:full.new_ids.index(eos) + 1]
    assert stopped.text.startswith(" football.") and stopped.text == demo.tokenizer.decode(stopped.new_ids[:-1])


def test_a_generation_that_overflows_names_the_intervention_and_leaves_no_hook(tiny):
    huge = (Inject(1, tuple([1.0] * tiny.spec.d_model), 3e38),)
    with pytest.raises(NonFiniteError, match="Inject"):
        tiny.generate(PROMPT, huge, max_new_tokens=5)
    assert no_hooks(tiny)
    assert tiny.generate(PROMPT, max_new_tokens=5) == tiny.generate(PROMPT, max_new_tokens=5)
