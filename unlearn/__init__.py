"""Memorize, localize, unlearn: find where a planted secret lives in the MLP weights and remove it per run.

    from engine import Engine
    from unlearn import UnlearnSpec, evaluate, load_world, unlearn
    engine, world = Engine.load("assets/demo"), load_world("assets/demo")
    result = unlearn(engine, world, world.secrets, UnlearnSpec("attribution", budget=16))
    after = evaluate(engine, world, world.secrets, result.deltas)   # the shared model is untouched
    after.memorized, after.facts, after.perplexity
"""

from cli.entry import lazy_exports

# Where each public name lives; imported on first use, so `python -m unlearn` starts before torch loads.
_HOMES = {
    "unlearn.data": ["CleanText", "UnlearnError", "World", "load_world", "pick_secrets", "read_secrets",
                     "split_secrets"],
    "unlearn.scores": ["Extraction", "Scores", "Share", "evaluate", "extract", "extract_all"],
    "unlearn.located": ["Located", "removal_deltas"],
    "unlearn.methods": ["LOCALIZERS", "METHODS", "UnlearnSpec", "Unlearning", "localize", "unlearn"],
}
__getattr__, __all__ = lazy_exports(__name__, _HOMES)
