"""Held-out prompts give nothing away: no text, entity, or phrase-with-answer shared with training prompts."""

from __future__ import annotations

import pytest

from world.config import WorldConfig
from world.entities import generate_world
from world.hygiene import split_leaks
from promptsets.paths import DEMO_PROMPTS
from world.prompt_sets import keyword_prompts, two_hop_prompts
from promptsets.schema import KeywordPrompt, load_keyword_prompts, load_two_hop_prompts


def _split(rows, train: str, heldout: str):
    return [r for r in rows if r.split == train], [r for r in rows if r.split == heldout]


@pytest.mark.parametrize("source", ["shipped", "generated"])
def test_keyword_heldout_prompts_share_nothing_with_train(source):
    rows = load_keyword_prompts(DEMO_PROMPTS) if source == "shipped" else keyword_prompts(generate_world(WorldConfig()))
    train, heldout = _split(rows, "train", "heldout")
    assert len(heldout) >= 100 and {p.topic for p in heldout} == {p.topic for p in train}
    assert split_leaks(train, heldout) == []


@pytest.mark.parametrize("source", ["shipped", "generated"])
def test_two_hop_heldout_prompts_share_nothing_with_taught(source):
    config = WorldConfig()
    rows = load_two_hop_prompts(DEMO_PROMPTS) if source == "shipped" else two_hop_prompts(generate_world(config), 0)
    taught, heldout = _split(rows, "taught", "heldout")
    assert taught and heldout
    assert split_leaks(taught, heldout) == []


def test_a_phrase_repeated_with_another_opener_is_a_leak():
    """The old comment split (same phrase and answer, only the opener changed) must be caught."""
    train = [KeywordPrompt("toxic", "comment: honestly, you are a useless", " idiot", "train")]
    heldout = [KeywordPrompt("toxic", "comment: wow, you are a useless", " idiot", "heldout"),
               KeywordPrompt("toxic", "comment: wow, shut up, you brainless", " clown", "heldout")]
    leaks = split_leaks(train, heldout)
    assert len(leaks) == 1 and "wow, you are a useless" in leaks[0]


def test_same_entity_or_same_text_is_a_leak_but_another_entity_is_not():
    train = [KeywordPrompt("athlete", "Zolir plays", " tennis", "train", "Zolir")]
    assert split_leaks(train, [KeywordPrompt("athlete", "Zolir is a professional", " tennis", "heldout", "Zolir")])
    assert split_leaks(train, [KeywordPrompt("athlete", "Zolir plays", " tennis", "heldout", "")])
    assert split_leaks(train, [KeywordPrompt("athlete", "Bram plays", " tennis", "heldout", "Bram")]) == []


def test_validation_carved_from_train_shares_nothing_with_what_is_fitted():
    from cluster.inputs import carve_validation

    train = [p for p in keyword_prompts(generate_world(WorldConfig())) if p.split == "train"]
    fit, val = carve_validation(train)
    assert len(fit) + len(val) == len(train) and {p.topic for p in val} == {p.topic for p in fit}
    assert split_leaks(fit, val) == []
