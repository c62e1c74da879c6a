"""Build the demo: world -> corpus -> tokenizer -> model -> prompt sets, byte for byte from a seed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

from world.config import ModelConfig, WorldConfig, as_dict
from world.corpus import write_corpus
from world.entities import generate_world
from world.prompt_sets import fact_prompts, keyword_prompts, two_hop_prompts
from world.prompts import FACTS_FILE, KEYWORDS_FILE, TWO_HOP_FILE, write_jsonl
from world.tokenizer import train_tokenizer
from world.train import pack_corpus, train_model

log = logging.getLogger(__name__)
CORPUS_FILE = "corpus.txt"
WORLD_FILE = "world.json"


def build_demo(
    out: Path,
    world_config: WorldConfig = WorldConfig(),
    model_config: ModelConfig = ModelConfig(),
    progress: Callable[[int, int, float], None] | None = None,
) -> Path:
    """Write tokenizer, model, corpus and prompt sets of the demo into ``out``; return ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = generate_world(world_config)
    docs = write_corpus(world, world_config)
    (out / CORPUS_FILE).write_text("\n".join(docs) + "\n", encoding="utf-8")
    prompts = out / "prompts"
    write_jsonl(prompts / KEYWORDS_FILE, keyword_prompts(world))
    write_jsonl(prompts / FACTS_FILE, fact_prompts(world))
    write_jsonl(prompts / TWO_HOP_FILE, two_hop_prompts(world, world_config.seed))
    tokenizer = train_tokenizer(docs, model_config.vocab_size)
    tokens = pack_corpus(tokenizer, docs)
    log.info("corpus: %d documents, %d tokens", len(docs), len(tokens))
    model = train_model(model_config, tokens, len(tokenizer), tokenizer.eos_token_id, progress)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = {"world": as_dict(world_config), "model": as_dict(model_config), "corpus_tokens": len(tokens)}
    (out / WORLD_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out
