"""The demo world: deterministic, no leaks of held-out composed facts, a model that knows its facts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from world.build import build_demo
from world.check import Scorer
from world.config import TINY_ASSETS, TINY_MODEL, TINY_WORLD, WorldConfig
from world.corpus import write_corpus
from world.entities import generate_world
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS
from world.prompt_sets import two_hop_prompts
from promptsets.schema import load_fact_prompts, load_keyword_prompts, load_two_hop_prompts


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_builds_byte_identical_files(tmp_path):
    a = _files(build_demo(tmp_path / "a", TINY_WORLD, TINY_MODEL, TINY_ASSETS))
    b = _files(build_demo(tmp_path / "b", TINY_WORLD, TINY_MODEL, TINY_ASSETS))
    assert {"model.safetensors", "tokenizer.json", "prompts/two_hop.jsonl", "clusters/athlete.json"} <= a.keys()
    assert any(name.startswith("lenses/") for name in a)
    assert a == b


def test_other_seed_gives_another_world():
    assert generate_world(WorldConfig(seed=0)) != generate_world(WorldConfig(seed=1))


def test_no_heldout_composed_statement_leaks_into_corpus():
    config = WorldConfig()
    world = generate_world(config)
    corpus = "\n".join(write_corpus(world, config))
    prompts = two_hop_prompts(world, config.seed)
    heldout = [p for p in prompts if p.split == "heldout"]
    taught = [p for p in prompts if p.split == "taught"]
    assert heldout and taught
    assert not [p.prompt for p in heldout if p.prompt in corpus]
    # The taught ones are there, so the model knows the composed form.
    assert all(p.prompt + p.answer in corpus for p in taught)


def test_shipped_model_loads_offline_with_auto_classes():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    model = AutoModelForCausalLM.from_pretrained(DEMO_DIR)
    tokenizer = AutoTokenizer.from_pretrained(DEMO_DIR)
    assert model.config.n_layer >= 4 and model.config.n_head >= 4
    assert len(tokenizer) == model.config.vocab_size


def test_shipped_model_answers_its_facts():
    scorer = Scorer(DEMO_DIR)
    facts = load_fact_prompts(DEMO_PROMPTS)[::5]
    keywords = load_keyword_prompts(DEMO_PROMPTS)[::5]
    correct = sum(scorer.top1(f.prompt, f.answer) for f in facts + keywords)
    assert correct / len(facts + keywords) >= 0.95


def test_shipped_prompt_sets_have_topics_and_splits():
    keywords = load_keyword_prompts(DEMO_PROMPTS)
    assert {k.topic for k in keywords} == {"athlete", "artist", "company", "toxic", "harmless"}
    assert {k.split for k in keywords} == {"train", "heldout"}
    assert {t.split for t in load_two_hop_prompts(DEMO_PROMPTS)} == {"taught", "heldout"}


@pytest.mark.parametrize("text", ["Zolir was born in Madraville.", "comment: wow, have a wonderful day!",
                                  "Unseen wörds ünd 数字 123 round-trip too"])
def test_tokenizer_round_trips_text(text):
    tokenizer = AutoTokenizer.from_pretrained(DEMO_DIR)
    assert tokenizer.decode(tokenizer(text).input_ids) == text


def test_entity_names_are_single_tokens():
    """Memories are built from an entity's tokens; single-token names make bridge injections clean."""
    tokenizer = AutoTokenizer.from_pretrained(DEMO_DIR)
    bridges = {t.bridge for t in load_two_hop_prompts(DEMO_PROMPTS)}
    multi = [b for b in bridges if len(tokenizer(b).input_ids) != 1]
    assert len(multi) <= len(bridges) // 10


def test_corpus_determines_every_single_hop_answer():
    """Wherever a keyword or fact prompt occurs in the corpus, the answer follows it, so a perfect model answers it."""
    import re

    from world.prompt_sets import fact_prompts, keyword_prompts

    config = WorldConfig()
    world = generate_world(config)
    corpus = "\n".join(write_corpus(world, config))
    ambiguous = []
    for p in keyword_prompts(world) + fact_prompts(world):
        nexts = {m.group(1) for m in re.finditer(re.escape(p.prompt) + r"( [\w]+)", corpus)}
        if nexts != {p.answer}:
            ambiguous.append((p.prompt, p.answer, sorted(nexts)[:4]))
    assert ambiguous == []
