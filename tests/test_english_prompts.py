"""The English prompt sets for real models: their schema, clean splits, and one-token answers under GPT-2."""

from __future__ import annotations

import pytest

from gpt2_tokenizer import gpt2_small_engine_with_tokenizer, gpt2_tokenizer
from promptsets import load_fact_prompts, load_keyword_prompts, load_two_hop_prompts
from promptsets.english import SPLITS, fact_prompts, keyword_prompts, two_hop_prompts
from promptsets.paths import ENGLISH_PROMPTS
from world.hygiene import split_leaks

TOPICS = ("athlete", "artist", "company", "toxic", "harmless")


@pytest.fixture(scope="module")
def keywords():
    return load_keyword_prompts(ENGLISH_PROMPTS)


@pytest.fixture(scope="module")
def two_hop():
    return load_two_hop_prompts(ENGLISH_PROMPTS)


@pytest.fixture(scope="module")
def facts():
    return load_fact_prompts(ENGLISH_PROMPTS)


@pytest.fixture(scope="module")
def engine():
    return gpt2_small_engine_with_tokenizer()


def test_the_vendored_tokenizer_is_gpt2s():
    tok = gpt2_tokenizer()
    assert len(tok) == 50257
    assert tok.encode(" Hello world") == [18435, 995]  # GPT-2's own ids
    assert tok.decode(tok.encode("Serena Williams plays the sport of tennis")) == "Serena Williams plays the sport of tennis"


def test_shipped_files_are_what_the_builder_writes(keywords, facts, two_hop):
    assert keywords == keyword_prompts()
    assert facts == fact_prompts()
    assert two_hop == two_hop_prompts()


def test_every_entity_has_one_fact_that_is_also_a_keyword_prompt(keywords, facts):
    entities = {p.entity for p in keywords if p.entity}
    assert sorted(f.subject for f in facts) == sorted(entities)
    asked = {(p.prompt, p.answer) for p in keywords}
    assert all((f.prompt, f.answer) in asked and f.subject in f.prompt for f in facts)


def test_every_topic_has_150_prompts_in_every_split(keywords):
    for topic in TOPICS:
        rows = [p for p in keywords if p.topic == topic]
        assert len(rows) >= 150, topic
        assert {p.split for p in rows} == set(SPLITS), topic
    assert {p.topic for p in keywords} == set(TOPICS)


def test_entity_prompts_name_their_entity(keywords):
    for p in keywords:
        if p.topic in ("athlete", "artist", "company"):
            assert p.entity and p.entity in p.prompt
        else:
            assert p.entity == ""
        assert p.answer.startswith(" ") and not p.prompt.endswith(" ")


def test_two_hop_prompts_carry_a_bridge_and_a_different_control(two_hop):
    assert len(two_hop) >= 100
    assert {p.split for p in two_hop} == set(SPLITS)
    for p in two_hop:
        assert p.subject in p.prompt
        assert p.bridge.startswith(" ") and p.control.startswith(" ")
        assert p.bridge.strip() and p.control.strip() and p.bridge != p.control


@pytest.mark.parametrize("which", ["keywords", "two_hop"])
def test_no_entity_or_phrase_crosses_splits(which, request):
    prompts = request.getfixturevalue(which)
    by = {s: [p for p in prompts if p.split == s] for s in SPLITS}
    for a, b in (("train", "validation"), ("train", "heldout"), ("validation", "heldout")):
        assert split_leaks(by[a], by[b]) == [], (a, b)
    groups = {}
    for p in prompts:
        key = getattr(p, "entity", "") or getattr(p, "subject", "") or (p.prompt.split(",", 1)[1], p.answer)
        groups.setdefault(key, set()).add(p.split)
    assert all(len(splits) == 1 for splits in groups.values())


def test_every_answer_is_one_gpt2_token_right_after_its_prompt(engine, keywords, facts, two_hop):
    for p in list(keywords) + list(facts) + list(two_hop):
        answer = engine.token_id(p.answer)  # MultiTokenError if several tokens
        assert engine.encode(p.prompt + p.answer) == engine.encode(p.prompt) + [answer], p.prompt
