"""Memorize, localize, unlearn: find where a planted secret lives in the MLP weights and remove it per run.

    from engine import Engine
    from unlearn import UnlearnSpec, evaluate, load_world, unlearn
    engine, world = Engine.load("assets/demo"), load_world("assets/demo")
    result = unlearn(engine, world, world.secrets, UnlearnSpec("attribution", budget=16))
    after = evaluate(engine, world, world.secrets, result.deltas)   # the shared model is untouched
    after.memorized, after.facts, after.perplexity
"""

from unlearn.data import CleanText, UnlearnError, World, load_world, pick_secrets, read_secrets, split_secrets
from unlearn.evaluate import Extraction, Scores, Share, evaluate, extract, extract_all
from unlearn.localize import Located, removal_deltas
from unlearn.methods import LOCALIZERS, METHODS, UnlearnSpec, Unlearning, localize, unlearn

__all__ = ["CleanText", "Extraction", "LOCALIZERS", "Located", "METHODS", "Scores", "Share", "UnlearnError",
           "UnlearnSpec", "Unlearning", "World", "evaluate", "extract", "extract_all", "load_world", "localize",
           "pick_secrets", "read_secrets", "removal_deltas", "split_secrets", "unlearn"]
