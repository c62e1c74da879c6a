"""GPT-2's own byte-level BPE tokenizer, built offline from the vocabulary files vendored in tests/data."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, GPT2Config, PreTrainedTokenizerFast

from engine import Engine

GPT2_TOKENIZER_DIR = Path(__file__).resolve().parent / "data" / "gpt2-tokenizer"


def gpt2_tokenizer() -> PreTrainedTokenizerFast:
    """GPT-2's tokenizer (50,257 tokens) from vocab.json and merges.txt, as transformers' GPT-2 builds it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    bpe = models.BPE.from_file(str(GPT2_TOKENIZER_DIR / "vocab.json"), str(GPT2_TOKENIZER_DIR / "merges.txt"))
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>")


def gpt2_small_engine_with_tokenizer() -> Engine:
    """GPT-2 small's shape (12 layers, 12 heads, d_model 768) with seeded random weights and GPT-2's tokenizer."""
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    n_params = sum(p.numel() for p in model.parameters())
    if not 120e6 < n_params < 130e6:
        raise AssertionError(f"GPT-2-small-shaped model has {n_params} parameters")
    return Engine(model, gpt2_tokenizer(), name="gpt2-small-shape (random)")
