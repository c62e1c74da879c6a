"""Models the benches share: GPT-2 small's shape with random weights (no download, no tokenizer)."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, GPT2Config

from engine import Engine
from engine.loading import resolve_device


def gpt2_small_engine(device: str = "cpu") -> Engine:
    """GPT-2 small's shape (12 layers, 12 heads, d_model 768, 50,257 tokens), seeded random weights, on ``device``.

    It has no tokenizer, so prompts are token ids.
    """
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    model.requires_grad_(False)
    return Engine(model.to(resolve_device(device)), tokenizer=None, name="gpt2-small-shape (random)")
