"""Load a causal LM, read its activations, and run it with interventions.

    from engine import Engine, Impair
    eng = Engine.load("assets/demo")
    trace = eng.trace("The founder of Zentrix was born in")
    result = eng.run("The founder of Zentrix was born in", [Impair(layer=2, neurons=(5, 9))], samples=8)
"""

from engine.trace import CAPTURE_SITES, Batch, Captured
from engine.engine import Engine
from engine.errors import (EmptyPromptError, EngineError, GenerationError, InterventionError, LensLabError,
                           ModelLoadError, MultiTokenError, NonFiniteError, OutOfRangeError, PromptTooLongError,
                           ShapeError)
from engine.adapter import FAMILIES
from engine.generate import Generation
from engine.interventions import (IMPAIR_MODES, IMPAIR_SITES, Ablate, Impair, Inject,
                                  Intervention, WeightDelta)
from engine.interventions import PATCH_SITES, Patch
from engine.readout import Readout, gain_ratio
from engine.readout import RunResult
from engine.spec import ModelSpec
from engine.trace import ACTIVATION_SITES, Trace

__all__ = [
    "ACTIVATION_SITES", "Ablate", "Batch", "CAPTURE_SITES", "Captured", "EmptyPromptError", "Engine",
    "EngineError", "FAMILIES", "Generation", "GenerationError", "IMPAIR_MODES", "IMPAIR_SITES", "Impair", "Inject", "Intervention",
    "InterventionError", "LensLabError", "ModelLoadError", "ModelSpec", "MultiTokenError", "NonFiniteError",
    "OutOfRangeError", "PATCH_SITES", "Patch", "PromptTooLongError", "Readout", "RunResult", "ShapeError", "Trace", "WeightDelta", "gain_ratio",
]
