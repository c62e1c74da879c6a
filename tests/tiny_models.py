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


# A SentencePiece-style tokenizer (Llama, Mistral): Metaspace always puts the word-start piece "▁"
# first, so "." alone encodes as [▁, .] and " girl" as [▁girl]; a BOS is added to prompts.
SP_SENTENCES = ["She is a girl.", "the girl is here.", "a girl and a boy went home.",
                "Tovaren plays tennis and was born in Marlow."] * 20
SP_PROMPTS = {"She is a": "▁girl", "She is a girl": "."}


def sentencepiece_tokenizer():
    """A tiny BPE tokenizer with a Metaspace pre-tokenizer (prepend always) and a BOS post-processor."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok.train_from_iterator(SP_SENTENCES, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def save_sentencepiece_llama(out: Path, seed: int = 0) -> Path:
    """A tiny Llama with the SentencePiece-style tokenizer whose next token after each of
    ``SP_PROMPTS`` is the piece named there (its unembedding rows are set to make it so)."""
    torch.manual_seed(seed)
    tokenizer = sentencepiece_tokenizer()
    config = LlamaConfig(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=32,
                         intermediate_size=64, max_position_embeddings=CTX, vocab_size=len(tokenizer),
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    model = AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        finals = [model(torch.tensor([tokenizer.encode(p)]), output_hidden_states=True).hidden_states[-1][0, -1]
                  for p in SP_PROMPTS]
        for i, piece in enumerate(SP_PROMPTS.values()):
            other = finals[1 - i]
            # Orthogonal to the other prompt's final state: this row wins here and stays quiet there.
            row = finals[i] - (finals[i] @ other) / (other @ other) * other
            model.lm_head.weight[tokenizer.convert_tokens_to_ids(piece)] = 12 * row / (row @ finals[i])
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def legacy_sentencepiece_tokenizer():
    """The older Llama / Mistral layout: a normaliser prepends "▁" and replaces spaces, with no
    pre-tokenizer, so " girl" alone encodes as [▁, ▁girl] and "." as [▁, .]."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=80, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok.train_from_iterator(SP_SENTENCES, trainer=trainer)  # split into words for training only
    tok.pre_tokenizer = None
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
