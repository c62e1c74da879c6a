"""Token ids: the checks every prompt's ids pass, and the ids a text gets when it continues a prompt.

A prompt is never truncated: ids beyond the model's context are refused, as are ids outside
its embedding. Encoding a text on its own is not that. SentencePiece-style tokenizers (Llama,
Mistral: a Metaspace pre-tokenizer or normaliser) put a word-start piece ``▁``
before standalone text, so ``"."`` alone encodes as ``[▁, .]``; others add a BOS.
Encoding the text after an anchor and keeping only what follows the anchor's own
ids gives the pieces the model reads (and predicts) mid-prompt, with no special
tokens, on byte-level BPE and SentencePiece alike.
"""

from __future__ import annotations

from typing import Sequence

from engine.errors import EmptyPromptError, OutOfRangeError, PromptTooLongError

# Anchors tried in turn; one is used only if its own ids come out unchanged in front of the
# text (so nothing merged across the seam). A newline splits words in every family we support.
_ANCHORS = ("\n", "\n\n", "0", "a")


def check_ids(ids: Sequence[int], n_ctx: int, n_vocab: int) -> None:
    """EmptyPromptError, PromptTooLongError (prompts are never truncated) or OutOfRangeError for a bad id."""
    if len(ids) == 0:
        raise EmptyPromptError("the prompt has no tokens; type some text")
    if len(ids) > n_ctx:
        raise PromptTooLongError(
            f"the prompt has {len(ids)} tokens but this model reads at most {n_ctx}; "
            "shorten it (prompts are never truncated)")
    bad = [i for i in ids if not 0 <= i < n_vocab]
    if bad:
        raise OutOfRangeError(f"token id {bad[0]} does not exist; this model has ids 0-{n_vocab - 1}")


def _encode(tokenizer, text: str) -> list[int]:
    return [int(i) for i in tokenizer.encode(text, add_special_tokens=False)]


def continuation_ids(tokenizer, text: str) -> list[int]:
    """Token ids of ``text`` as it appears after other text in a prompt (no BOS, no stray ``▁``).

    Answers carry their leading space, as the model predicts them: for GPT-2 ``" Paris"``
    is ``[ĠParis]``; for Llama ``" Paris"`` is ``[▁Paris]`` and ``"."`` is ``[.]``.
    """
    for anchor in _ANCHORS:
        head = _encode(tokenizer, anchor)
        both = _encode(tokenizer, anchor + text)
        if both[: len(head)] == head:
            return both[len(head):]
    special = set(getattr(tokenizer, "all_special_ids", None) or ())
    return [i for i in _encode(tokenizer, text) if i not in special]


def piece_texts(tokenizer, ids: Sequence[int]) -> list[str]:
    """The text each of ``ids`` adds after a newline, so a word-start piece shows its space (``" girl"``)."""
    head = _encode(tokenizer, "\n")
    out, before = [], tokenizer.decode(head)
    for n in range(1, len(ids) + 1):
        text = tokenizer.decode(head + [int(i) for i in ids[:n]])
        out.append(text[len(before):])
        before = text
    return out
