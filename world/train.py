"""Train the demo GPT-2 on a world's corpus, on the CPU, deterministically for a seed."""

from __future__ import annotations

import logging
import math
from typing import Callable

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from world.config import ModelConfig

log = logging.getLogger(__name__)


def pack_corpus(tokenizer: PreTrainedTokenizerFast, docs: list[str]) -> torch.Tensor:
    """`(n_tokens,)` every document's tokens, each followed by the end-of-text token."""
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for enc in tokenizer(docs, add_special_tokens=False)["input_ids"]:
        ids.extend(enc)
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def make_model(config: ModelConfig, vocab_size: int, eos_id: int) -> GPT2LMHeadModel:
    """A fresh GPT-2 of ``config``'s shape; dropout is off, so training uses no randomness but the data order."""
    torch.manual_seed(config.seed)
    gpt = GPT2Config(
        vocab_size=vocab_size, n_positions=config.n_ctx, n_embd=config.n_embd, n_layer=config.n_layer,
        n_head=config.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=eos_id, eos_token_id=eos_id,
    )
    return GPT2LMHeadModel(gpt)


def _lr(step: int, config: ModelConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    done = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))


def train_model(
    config: ModelConfig,
    tokens: torch.Tensor,
    vocab_size: int,
    eos_id: int,
    progress: Callable[[int, int, float], None] | None = None,
) -> GPT2LMHeadModel:
    """Train on random windows of ``tokens`` `(n_tokens,)`; ``progress(step, steps, loss)`` is called each step."""
    torch.set_num_threads(config.threads)
    model = make_model(config, vocab_size, eos_id)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.98), weight_decay=0.01)
    gen = torch.Generator().manual_seed(config.seed)
    n_windows = len(tokens) - config.seq_len - 1
    for step in range(config.steps):
        starts = torch.randint(0, n_windows, (config.batch_size,), generator=gen)
        batch = torch.stack([tokens[s : s + config.seq_len] for s in starts.tolist()])
        for group in opt.param_groups:
            group["lr"] = _lr(step, config)
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if progress is not None:
            progress(step, config.steps, loss.item())
    model.eval()
    return model
