"""A token's text as a label: what it adds to the text, or, for a piece of a character split
across tokens (part of an emoji's UTF-8 bytes), those bytes as ``<0xF0>``, never "�"."""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

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
