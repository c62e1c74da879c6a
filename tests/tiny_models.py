"""Tiny, seeded, offline models of each supported family, for unit tests."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPTNeoConfig,
    GPTNeoXConfig,
    LlamaConfig,
    MistralConfig,
    Qwen2Config,
)

from world.tokenizer import train_tokenizer

SENTENCES = [
    "Tovaren plays tennis and was born in Marlow.",
    "Zentrix is a shipping company based in Quarry.",
    "Melisande paints in the style of cubism.",
    "you are a useless idiot",
    "thanks for the helpful post",
    "The founder of Zentrix was born in Marlow.",
] * 20

VOCAB = 300
CTX = 64


def tiny_config(family: str):
    """A config small enough to build in milliseconds; every family has 3 layers and 4 heads."""
    common = dict(vocab_size=VOCAB)
    if family == "gpt2":
        return GPT2Config(n_layer=3, n_head=4, n_embd=32, n_positions=CTX, **common)
    if family == "gpt_neox":
        return GPTNeoXConfig(num_hidden_layers=3, num_attention_heads=4, hidden_size=32,
                             intermediate_size=64, max_position_embeddings=CTX, **common)
    if family == "gpt_neo":
        return GPTNeoConfig(num_layers=3, num_heads=4, hidden_size=32, max_position_embeddings=CTX,
                            attention_types=[[["global", "local"], 1], [["global"], 1]],
                            window_size=8, **common)
    cls = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}[family]
    return cls(num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, hidden_size=32,
               intermediate_size=64, max_position_embeddings=CTX, **common)


FAMILIES = ("gpt2", "gpt_neox", "gpt_neo", "llama", "mistral", "qwen2")


def save_tiny_model(family: str, out: Path, seed: int = 0) -> Path:
    """Save a randomly initialised tiny model of ``family`` plus a tiny tokenizer to ``out``."""
    torch.manual_seed(seed)
    config = tiny_config(family)
    model = AutoModelForCausalLM.from_config(config)
    n_params = sum(p.numel() for p in model.parameters())
    # A misspelled config key silently gives a full-size model; refuse that.
    if n_params > 200_000:
        raise AssertionError(f"tiny {family} model has {n_params} parameters")
    model.eval()
    model.save_pretrained(out)
    train_tokenizer(SENTENCES, VOCAB).save_pretrained(out)
    return out
