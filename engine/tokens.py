"""Token ids and their labels: the checks on a prompt's ids, continuations, and a token's text as a label.

Token ids: the checks every prompt's ids pass, and the ids a text gets when it continues a prompt.

A prompt is never truncated: ids beyond the model's context are refused, as are ids outside
its embedding. Encoding a text on its own is not that. SentencePiece-style tokenizers (Llama,
Mistral: a Metaspace pre-tokenizer or normaliser) put a word-start piece ``▁``
before standalone text, so ``"."`` alone encodes as ``[▁, .]``; others add a BOS.
Encoding the text after an anchor and keeping only what follows the anchor's own
ids gives the pieces the model reads (and predicts) mid-prompt, with no special
tokens, on byte-level BPE and SentencePiece alike.

An answer belongs to its prompt: the tokens the model must produce after *this* prompt to write
it are read off the joint encoding of prompt + answer (:func:`after_prompt`). Where the tokenizer
merges the prompt's last token with the answer's start (TinyStories writes "there was a dog" as
``there▁was▁a▁`` + ``dog``), no token after the prompt's own ids starts the answer, and saying so
beats predicting a bare word-start marker.

A token's text as a label: what it adds to the text, or, for a piece of a character split
across tokens (part of an emoji's UTF-8 bytes), those bytes as ``<0xF0>``, never "�".
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache
from typing import Sequence

from engine.errors import EmptyPromptError, MultiTokenError, OutOfRangeError, PromptTooLongError


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


def check_text(text: object, what: str) -> None:
    """TypeError unless ``text`` is a str; EmptyPromptError (naming ``what``) when it is empty."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    if not text:
        raise EmptyPromptError(f"the {what} is empty; type a word (with its leading space, e.g. ' Paris')")


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


def _body(tokenizer, ids: Sequence[int]) -> list[int]:
    """``ids`` without the special tokens a tokenizer may append (an EOS), so encodings compare by text."""
    special, ids = set(getattr(tokenizer, "all_special_ids", None) or ()), [int(i) for i in ids]
    while len(ids) > 1 and ids[-1] in special:
        ids.pop()
    return ids


def after_prompt(tokenizer, prompt_ids: Sequence[int], prompt: str, text: str) -> tuple[list[int], int]:
    """(joint ids of ``prompt + text``, how many of ``prompt_ids`` they keep unchanged in front).

    When all are kept, ``joint[len(prompt_ids):]`` is what the model would produce after the prompt to
    write ``text``; when fewer are, the prompt's last token merges with the text's start.
    """
    head, joint = _body(tokenizer, prompt_ids), _body(tokenizer, tokenizer.encode(prompt + text))
    kept = 0
    while kept < min(len(head), len(joint)) and head[kept] == joint[kept]:
        kept += 1
    return joint, kept


def piece_texts(tokenizer, ids: Sequence[int], head: Sequence[int] | None = None) -> list[str]:
    """The text each of ``ids`` adds after ``head`` (default: a newline), so a word-start piece shows its space
    (``" girl"``)."""
    head = _encode(tokenizer, "\n") if head is None else [int(i) for i in head]
    out, before = [], tokenizer.decode(head)
    for n in range(1, len(ids) + 1):
        text = tokenizer.decode(head + [int(i) for i in ids[:n]])
        out.append(text[len(before):])
        before = text
    return out


def _respaced(prompt: str, text: str) -> tuple[str, str] | None:
    """The same words with the whitespace at the seam moved to the other side, or None if there is none."""
    if text[:1].isspace():
        cut = len(text) - len(text.lstrip())
        return prompt + text[:cut], text[cut:]
    if prompt[-1:].isspace():
        cut = len(prompt.rstrip())
        return prompt[:cut], prompt[cut:] + text
    return None


def respace_hint(tokenizer, prompt: str, text: str) -> str:
    """"; end the prompt with ... instead" when moving the seam's whitespace lets the joint encoding start the
    text with one real token, else ""."""
    moved = _respaced(prompt, text)
    if moved is None or not moved[0].strip() or not moved[1]:
        return ""
    head = tokenizer.encode(moved[0])
    joint, kept = after_prompt(tokenizer, head, *moved)
    ids = joint[len(_body(tokenizer, head)):]
    if kept < len(_body(tokenizer, head)) or len(ids) != 1 and not piece_texts(tokenizer, ids[:1], head)[0].strip():
        return ""
    return f"; end the prompt with {moved[0][-12:]!r} and give {moved[1]!r} instead"


def answer_ids(tokenizer, prompt_ids: Sequence[int], prompt: str, text: str, what: str) -> tuple[list[int], str]:
    """(the ids the model would produce after ``prompt``, read as ``prompt_ids``, to write ``text``; a note).

    They are the joint encoding's ids after the prompt's. Where the prompt's last token merges with
    ``text`` (the joint encoding rewrites it), the model, having read the prompt's own ids, still has
    all of ``text`` to write: its ids on their own (:func:`continuation_ids`), and the note says why.
    """
    joint, kept = after_prompt(tokenizer, prompt_ids, prompt, text)
    head, note = _body(tokenizer, prompt_ids), ""
    ids = joint[len(head):]
    if kept < len(head):
        seam = " + ".join(repr(tokenizer.decode([i])) for i in joint[kept:kept + 3])
        note = (f"; the tokenizer writes the prompt's end and the {what} together as {seam}, merging the "
                f"prompt's last token {tokenizer.decode([head[-1]])!r}, so after it the {what} starts afresh")
        ids = continuation_ids(tokenizer, text)
    if not ids:
        raise EmptyPromptError(f"the {what} {text!r} adds no token after this prompt; type a word, e.g. ' Paris'")
    return ids, note


def one_token(tokenizer, ids: Sequence[int], head: Sequence[int] | None, text: str, what: str, first: bool,
              prompt: str | None = None, note: str = "") -> int:
    """The one id of ``ids`` (``text``'s tokens after ``head``, the ids of ``prompt``); with ``first``, the first
    of several, unless it is only a word-start marker or space. Otherwise MultiTokenError naming the tokens."""
    if len(ids) == 1:
        return int(ids[0])
    pieces = piece_texts(tokenizer, ids[:6], head)
    if first and (pieces[0].strip() or not text.strip()):
        return int(ids[0])
    hint = note + ("" if prompt is None else respace_hint(tokenizer, prompt, text))
    listed = ", ".join(map(repr, pieces)) + (", …" if len(ids) > 6 else "")
    if first:
        raise MultiTokenError(f"no single token starts the {what} {text!r}: it is {len(ids)} tokens for this model "
                              f"({listed}) and the first is only a space or word-start marker{hint}")
    example = f", e.g. {pieces[0]!r}" if pieces[0].strip() else ""
    raise MultiTokenError(f"the {what} {text!r} is {len(ids)} tokens for this model ({listed}); "
                          f"give a single token{example}{hint}")


_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")  # SentencePiece's byte-fallback pieces


def _hex_bytes(err: UnicodeDecodeError) -> tuple[str, int]:
    return "".join(f"<0x{b:02X}>" for b in err.object[err.start:err.end]), err.end


codecs.register_error("lenslab_hex_bytes", _hex_bytes)


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, character -> byte (printable bytes stand for themselves, the rest shifted)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(keep, chars)}


def token_label(tokenizer, token_id: int) -> str:
    """``tokenizer``'s text for one token; a token that is only part of a character shows its bytes."""
    text = tokenizer.decode([int(token_id)])
    if "\ufffd" not in text:
        return text
    piece = tokenizer.convert_ids_to_tokens(int(token_id))
    if not isinstance(piece, str):
        return text
    if _BYTE_PIECE.match(piece):
        return piece.upper().replace("0X", "0x")
    table = _byte_decoder()
    if piece and all(c in table for c in piece):
        return bytes(table[c] for c in piece).decode("utf-8", errors="lenslab_hex_bytes")
    return text
