"""One door to every unlearning method: a spec in, per-run weight deltas out (the shared model untouched).

    spec = UnlearnSpec("attribution", budget=16)
    result = unlearn(engine, world, secrets, spec)
    engine.generate(prefix, result.deltas)      # the unlearned model, for this run only
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine import Engine, WeightDelta
from promptsets.schema import SecretPrompt
from unlearn.data import World
from unlearn.errors import UnlearnError
from unlearn.located import METHOD_TEXT, UNIT_METHODS, Located, dense_deltas, removal_deltas
from unlearn.localize import check_budget, localize_units
from unlearn.train import MASK_STEPS, TUNE_STEPS, Trained, finetune, learn_mask, random_mask

METHODS = ("attribution", "activation", "gradient", "mask", "finetune", "random", "random-mask")
LOCALIZERS = ("attribution", "activation", "gradient", "mask", "random", "random-mask")
TEXT = {**METHOD_TEXT, "finetune": "fine-tuning W_out: gradient ascent on the secret, descent on clean text"}


@dataclass(frozen=True)
class UnlearnSpec:
    """``method`` (see :data:`METHODS`) with its size: ``budget`` units (a mask: as many weights as ``budget`` rows);
    ``steps`` for trained methods (0: the method's default); ``layer`` for finetune (None: every layer)."""

    method: str
    budget: int = 16
    steps: int = 0
    layer: int | None = None
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Unlearning:
    """The deltas that unlearn, and what made them: ``located`` (localizers) or ``trained`` (losses, trained methods)."""

    spec: UnlearnSpec
    deltas: tuple[WeightDelta, ...]
    located: Located | None = None
    trained: Trained | None = None


def check_spec(engine: Engine, spec: UnlearnSpec) -> None:
    """UnlearnError for an unknown method, a budget out of range, or a layer the model lacks."""
    if spec.method not in METHODS:
        raise UnlearnError(f"unknown method {spec.method!r}; use one of {', '.join(METHODS)}")
    check_budget(engine, spec.budget)
    if not 0 <= spec.steps <= 10_000:
        raise UnlearnError(f"steps must be from 0 (the default) to 10000, got {spec.steps}")
    if spec.layer is not None and not 0 <= spec.layer < engine.spec.n_layers:
        raise UnlearnError(f"layer {spec.layer} does not exist; this model has layers 0-{engine.spec.n_layers - 1}")


def localize(engine: Engine, world: World, secrets: Sequence[SecretPrompt], spec: UnlearnSpec) -> tuple[Located, Trained | None]:
    """Where ``spec.method`` says the secrets live (a localizer; finetune localizes nothing)."""
    check_spec(engine, spec)
    if spec.method == "finetune":
        raise UnlearnError("finetune does not localize; use apply, or one of " + ", ".join(LOCALIZERS))
    if spec.method in UNIT_METHODS:
        return localize_units(engine, spec.method, secrets, spec.budget, world.facts, world.clean.retain,
                              spec.seed), None
    if spec.method == "random-mask":
        return random_mask(engine, spec.budget, spec.seed), None
    return learn_mask(engine, secrets, world.clean.retain, spec.budget, spec.steps or MASK_STEPS, seed=spec.seed)


def unlearn(engine: Engine, world: World, secrets: Sequence[SecretPrompt], spec: UnlearnSpec) -> Unlearning:
    """The per-run weight deltas of ``spec`` for ``secrets``."""
    check_spec(engine, spec)
    if spec.method == "finetune":
        layers = None if spec.layer is None else [spec.layer]
        changes, trained = finetune(engine, secrets, world.clean.retain, layers, spec.steps or TUNE_STEPS)
        return Unlearning(spec, dense_deltas(changes), trained=trained)
    located, trained = localize(engine, world, secrets, spec)
    return Unlearning(spec, removal_deltas(engine, located), located, trained)
