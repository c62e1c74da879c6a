"""Build the demo: world -> corpus -> tokenizer -> model -> prompt sets, byte for byte from a seed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from engine import Engine
from promptsets.schema import (BACKDOOR_FILE, CONCEPTS_FILE, FACTS_FILE, KEYWORDS_FILE, SECRETS_FILE,
                               TWO_HOP_FILE, BackdoorPrompt, SecretPrompt, write_jsonl)
from world.assets import build_clusters, build_lenses
from world.config import AssetsConfig, ModelConfig, WorldConfig, as_dict
from world.corpus import compose_corpus, document_text, facts_table
from world.entities import generate_world
from world.planted import backdoor, plant_secrets
from world.prompt_sets import (backdoor_test_prompts, backdoor_words, concept_prompts, fact_prompts, keyword_prompts,
                               two_hop_prompts)
from world.tokenizer import train_tokenizer
from world.train import pack_corpus, train_model

log = logging.getLogger(__name__)
CORPUS_FILE = "corpus.txt"
CORPUS_FACTS_FILE = "corpus_facts.tsv"
DEMO_NAME = "lenslab-demo"
WORLD_FILE = "world.json"


def build_demo(
    out: Path,
    world_config: WorldConfig = WorldConfig(),
    model_config: ModelConfig = ModelConfig(),
    assets_config: AssetsConfig = AssetsConfig(),
    progress: Callable[[int, int, float], None] | None = None,
    retrain: bool = False,
) -> Path:
    """Write tokenizer, model, corpus, prompt sets, lenses and clusters of the demo into ``out``.

    A model already in ``out`` that was trained from the same world and model configs is
    kept (training is the slow, deterministic part); ``retrain`` trains it again regardless.
    Lenses and clusters are always made anew from the model.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(model_config.threads)  # lenses too: the same thread count, the same bytes
    world = generate_world(world_config)
    keywords = keyword_prompts(world)
    secrets = plant_secrets(world, world_config)
    door = backdoor(world_config, backdoor_test_prompts(keywords))
    tagged = compose_corpus(world, world_config, secrets, backdoor_words(world, keywords))
    docs = [document_text(d) for d in tagged]
    (out / CORPUS_FILE).write_text("\n".join(docs) + "\n", encoding="utf-8")
    (out / CORPUS_FACTS_FILE).write_text("\n".join(facts_table(tagged)) + "\n", encoding="utf-8")
    prompts = out / "prompts"
    write_jsonl(prompts / KEYWORDS_FILE, keywords)
    write_jsonl(prompts / FACTS_FILE, fact_prompts(world))
    write_jsonl(prompts / TWO_HOP_FILE, two_hop_prompts(world, world_config.seed))
    write_jsonl(prompts / CONCEPTS_FILE, concept_prompts(world))
    write_jsonl(prompts / SECRETS_FILE, [SecretPrompt(s.subject, s.prefix, s.continuation, s.copies) for s in secrets])
    write_jsonl(prompts / BACKDOOR_FILE,
                [BackdoorPrompt(door.trigger, p, door.continuation, door.copies) for p in door.prompts])
    # JSON-shaped (tuples as lists), so it compares equal to the header read back from world.json.
    meta = json.loads(json.dumps({"world": as_dict(world_config), "model": as_dict(model_config)}))
    if retrain or not _trained_from(out, meta):
        meta["corpus_tokens"] = _train(out, docs, model_config, progress)
    else:
        log.info("keeping the model in %s: it was trained from the same configs", out)
        meta["corpus_tokens"] = json.loads((out / WORLD_FILE).read_text(encoding="utf-8"))["corpus_tokens"]
    # Named, not by its folder, so no machine path ends up in the shipped headers.
    engine = Engine(AutoModelForCausalLM.from_pretrained(out, trust_remote_code=False),
                    AutoTokenizer.from_pretrained(out, trust_remote_code=False), name=DEMO_NAME)
    build_lenses(engine, docs, out, assets_config, model_config.seed)
    build_clusters(engine, keywords, out, assets_config)
    meta["assets"] = as_dict(assets_config)
    (out / WORLD_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def _train(out: Path, docs: list[str], config: ModelConfig, progress) -> int:
    """Train tokenizer and model on ``docs`` and save both into ``out``; returns the corpus size in tokens."""
    tokenizer = train_tokenizer(docs, config.vocab_size)
    tokens = pack_corpus(tokenizer, docs)
    log.info("corpus: %d documents, %d tokens", len(docs), len(tokens))
    model = train_model(config, tokens, len(tokenizer), tokenizer.eos_token_id, progress)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return len(tokens)


def _trained_from(out: Path, meta: dict) -> bool:
    """Whether ``out`` holds a model trained from the world and model configs in ``meta``."""
    try:
        old = json.loads((out / WORLD_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    files = ("model.safetensors", "config.json", "tokenizer.json")
    return all((out / f).is_file() for f in files) and all(old.get(k) == v for k, v in meta.items())
