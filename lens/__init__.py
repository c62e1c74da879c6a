"""Logit lens and Attention Lenses: train, save, load, decode.

    from engine import Engine
    from lens import decode_heads, load_lenses
    eng = Engine.load("assets/demo")
    lenses = load_lenses("assets/demo/lenses", eng)
    result = decode_heads(eng, lenses, "The founder of Zentrix was born in", target=" Marlow")
"""

from lens.decode import (HeadLensResult, LogitLensResult, PatternResult, attention_pattern, decode_heads,
                         decode_layer, decode_logit_lens, load_lenses, logit_lens, resolve_target, topk_stats)
from lens.errors import LensError, LensFormatError, LensImportError, LensMismatch
from lens.evaluate import EvalResult, evaluate_lenses
from lens.header import LensHeader, read_header
from lens.lenses import KINDS, Lens, LogitLens, params_per_head
from lens.original import import_original
from lens.storage import LensSet, ModuleLens
from lens.train import train_lenses

__all__ = [
    "EvalResult", "HeadLensResult", "KINDS", "Lens", "LensError", "LensFormatError", "LensHeader",
    "LensImportError", "LensMismatch", "LensSet", "LogitLens", "LogitLensResult", "ModuleLens",
    "PatternResult", "attention_pattern", "decode_heads", "decode_layer", "decode_logit_lens",
    "evaluate_lenses", "import_original", "load_lenses", "logit_lens", "params_per_head", "read_header",
    "resolve_target", "topk_stats", "train_lenses",
]
