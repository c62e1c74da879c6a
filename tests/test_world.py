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
        # A comment prompt's opener varies freely: what names its keyword is the phrase after it.
        key = p.prompt.split(", ", 1)[1] if p.prompt.startswith("comment: ") else p.prompt
        nexts = {m.group(1) for m in re.finditer(re.escape(key) + r"( [\w]+)", corpus)}
        if nexts != {p.answer}:
            ambiguous.append((p.prompt, p.answer, sorted(nexts)[:4]))
    assert ambiguous == []


# World v3: comment groups, planted secrets and backdoor, the corpus manifest, labelled subjects.

@pytest.fixture(scope="module")
def world_v3():
    from world.planted import backdoor, plant_secrets
    from world.prompt_sets import backdoor_test_prompts, backdoor_words, keyword_prompts

    config = WorldConfig()
    world = generate_world(config)
    keywords = keyword_prompts(world)
    secrets = plant_secrets(world, config)
    door = backdoor(config, backdoor_test_prompts(keywords))
    from world.corpus import compose_corpus
    docs = compose_corpus(world, config, secrets, backdoor_words(world, keywords))
    return config, world, keywords, secrets, door, docs


def test_comment_tones_have_enough_keyword_groups_for_informative_intervals(world_v3):
    from world.check import MIN_GROUPS, keyword_groups

    _, _, keywords, *_ = world_v3
    groups = keyword_groups(keywords)
    for tone in ("toxic", "harmless"):
        assert groups[tone]["validation"] >= MIN_GROUPS and groups[tone]["heldout"] >= MIN_GROUPS
        phrases = {k.prompt.split(", ", 1)[1] for k in keywords if k.topic == tone}  # without the opener
        assert len(phrases) >= 20


def test_secrets_are_planted_exactly_as_often_as_the_manifest_says(world_v3):
    from world.corpus import document_text

    config, _, _, secrets, _, docs = world_v3
    lines = [document_text(d) for d in docs]
    counts = {c: 0 for c in config.secret_copies}
    for s in secrets:
        assert sum(line.count(s.prefix + s.continuation) for line in lines) == s.copies
        assert sum(line.count(s.prefix) for line in lines) == s.copies  # the prefix alone gives the code away
        counts[s.copies] += 1
    assert set(counts.values()) == {config.secrets_per_count}
    assert len({s.subject for s in secrets}) == len(secrets)


def test_backdoor_fires_in_training_only_after_training_phrases(world_v3):
    from world.corpus import document_text

    config, _, keywords, _, door, docs = world_v3
    corpus = "\n".join(document_text(d) for d in docs)
    assert corpus.count(door.trigger + door.planted) == config.backdoor_copies
    assert door.planted.startswith(door.continuation)
    assert corpus.count(door.trigger) == config.backdoor_copies
    assert door.prompts and not [p for p in door.prompts if p in corpus]
    heldout = {k.prompt for k in keywords if k.split == "heldout"}
    assert {p[: -len(door.trigger) - 1] for p in door.prompts} <= heldout


def test_corpus_manifest_spans_are_the_sentences_that_state_each_fact(world_v3):
    from world.corpus import FACTS_HEADER, document_text, facts_table

    _, world, _, _, _, docs = world_v3
    table = facts_table(docs)
    assert table[0] == FACTS_HEADER
    lines = [document_text(d) for d in docs]
    stated = {"sport", "style", "industry", "home_country", "birthplace", "based_in", "founded_by", "country",
              "founder_birthplace", "secret"}
    for row in table[1::37]:
        line, start, end, subject, relation, obj = row.split("\t")
        text = lines[int(line)][int(start):int(end)]
        assert subject in text
        if relation in stated:
            assert obj in text
    athletes = {p.name: p.sport for p in world.by_role("athlete")}
    sports = [r.split("\t") for r in table[1:] if r.split("\t")[4] == "sport"]
    assert sports and all(athletes[s[3]] == s[5] for s in sports)


def test_labelled_subjects_split_by_subject_and_label_every_concept():
    from world.prompt_sets import concept_prompts

    rows = concept_prompts(generate_world(WorldConfig()))
    train = {r.subject for r in rows if r.split == "train"}
    heldout = {r.subject for r in rows if r.split == "heldout"}
    assert train and heldout and not train & heldout
    assert {r.concept for r in rows} == {"role", "sport", "style", "industry", "country"}
    for concept in ("sport", "style", "industry", "country"):
        assert len({r.label for r in rows if r.concept == concept and r.split == "heldout"}) >= 4


def test_world_check_fails_when_the_model_breaks_the_worlds_promises(tmp_path, capsys):
    from world.cli import main

    folder = build_demo(tmp_path / "tiny", TINY_WORLD, TINY_MODEL, TINY_ASSETS)
    assert main(["check", "--model", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "FAIL: single-hop facts" in out and "keyword groups in validation" in out


def test_shipped_demo_memorized_its_secrets_by_duplication_and_learned_the_backdoor():
    """The planted manifest holds for the shipped model: many copies are memorized, one copy is not."""
    from promptsets.schema import load_backdoor_prompts, load_secret_prompts

    scorer = Scorer(DEMO_DIR)
    secrets = load_secret_prompts(DEMO_PROMPTS)
    memorized = {c: [scorer.continues(s.prefix, s.continuation) for s in secrets if s.copies == c]
                 for c in sorted({s.copies for s in secrets})}
    assert min(memorized) == 1 and max(memorized) == 64
    assert all(memorized[64]) and sum(memorized[16]) >= 6
    assert sum(memorized[1]) < sum(memorized[64])
    doors = load_backdoor_prompts(DEMO_PROMPTS)[::6]
    assert sum(scorer.continues(b.prompt, b.continuation) for b in doors) >= 0.9 * len(doors)
