"""Logit lens and Attention Lenses: train, save, load, decode.

    from engine import Engine
    from lens import decode_heads, load_lenses
    eng = Engine.load("assets/demo")
    lenses = load_lenses("assets/demo/lenses", eng)
    result = decode_heads(eng, lenses, "The founder of Zentrix was born in", target=" Marlow")
"""

from cli.entry import lazy_exports

# Where each public name lives; imported on first use, so `python -m lens` starts before torch loads.
_HOMES = {
    "lens.decode": ["HeadLensResult", "LogitLensResult", "PatternResult", "attention_pattern", "decode_heads",
                    "decode_layer", "decode_logit_lens", "load_lenses", "logit_lens", "resolve_target",
                    "topk_stats"],
    "lens.errors": ["LensError", "LensFormatError", "LensImportError", "LensMismatch"],
    "lens.evaluate": ["EvalResult", "evaluate_lenses"],
    "lens.header": ["LensHeader", "read_header"],
    "lens.lenses": ["KINDS", "Lens", "LogitLens", "params_per_head"],
    "lens.original": ["import_original"],
    "lens.storage": ["LensSet", "ModuleLens"],
    "lens.train": ["train_lenses"],
}
__getattr__, __all__ = lazy_exports(__name__, _HOMES)
