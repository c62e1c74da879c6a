"""Logit lens and Attention Lenses: train, save, load, decode.

    from engine import Engine
    from lens import decode_heads, load_lenses
    eng = Engine.load("assets/demo")
    lenses = load_lenses("assets/demo/lenses", eng)
    result = decode_heads(eng, lenses, "The founder of Zentrix was born in", target=" Marlow")
"""

from importlib import import_module

# Where each public name lives; imported lazily (see ``__getattr__``).
_FROM = {
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
_WHERE = {name: module for module, names in _FROM.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """Import a public name on first use, so ``python -m lens`` starts, and answers Ctrl-C, before torch loads."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
