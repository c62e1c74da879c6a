"""Checks on interventions against a model and a prompt, with the fix in every message."""

from __future__ import annotations

import math
import operator
from typing import Sequence

import numpy as np

from engine.errors import InterventionError, OutOfRangeError, shorten
from engine.interventions import IMPAIR_MODES, IMPAIR_SITES, Ablate, Impair, Inject, WeightDelta
from engine.spec import ModelSpec


def _about(what: object) -> str:
    """A short name for an intervention in a message (its repr may hold thousands of units)."""
    if isinstance(what, Impair):
        return f"the impairment of {len(tuple(what.neurons))} {shorten(what.site, 20)} units"
    if isinstance(what, Inject):
        return "the injection"
    return shorten(repr(what), 60)


def check_layer(layer: int, n_layers: int, what: object = None) -> int:
    """``layer`` as an int (numpy integers too); OutOfRangeError unless ``0 <= layer < n_layers``.

    The one layer check: the engine, its traces and every package call it.
    """
    index = None if isinstance(layer, bool) or not hasattr(layer, "__index__") else operator.index(layer)
    if index is None or not 0 <= index < n_layers:
        where = "" if what is None else f" (in {_about(what)})"
        raise OutOfRangeError(f"layer {layer!r} does not exist; this model has layers 0-{n_layers - 1}{where}")
    return index


def check_layers(layers: Sequence[int] | None, n_layers: int) -> tuple[int, ...]:
    """``layers`` (default: all) checked, without repeats and sorted; OutOfRangeError when none is chosen."""
    layers = tuple(range(n_layers)) if layers is None else tuple(sorted({check_layer(l, n_layers) for l in layers}))
    if not layers:
        raise OutOfRangeError(f"no layers chosen; this model has layers 0-{n_layers - 1}")
    return layers


def _check_finite(value: float, name: str, what: object) -> None:
    if not math.isfinite(float(value)):
        raise InterventionError(f"{name} must be a finite number, got {value!r} (in {_about(what)})")


def resolve_positions(positions: str | Sequence[int], n_pos: int) -> tuple[int, ...]:
    """"all", "last" or explicit positions (negative from the end) -> sorted absolute positions."""
    if positions == "all":
        return tuple(range(n_pos))
    if positions == "last":
        return (n_pos - 1,)
    if isinstance(positions, str):
        raise InterventionError(f"positions must be 'all', 'last' or a tuple of ints, got {shorten(repr(positions))}")
    resolved = set()
    for p in positions:
        if isinstance(p, bool) or not isinstance(p, int) or not -n_pos <= p < n_pos:
            raise OutOfRangeError(
                f"position {p!r} does not exist; this prompt has positions 0-{n_pos - 1} "
                f"(or -{n_pos} to -1 from the end)")
        resolved.add(p % n_pos)
    return tuple(sorted(resolved))


def check_impair(imp: Impair, spec: ModelSpec) -> None:
    """Validate an Impair's layer, mode, site, units, intensity and mean."""
    check_layer(imp.layer, spec.n_layers, imp)
    if imp.mode not in IMPAIR_MODES:
        raise InterventionError(f"unknown impair mode {shorten(repr(imp.mode))}; choose one of {', '.join(IMPAIR_MODES)}")
    if imp.site not in IMPAIR_SITES:
        raise InterventionError(f"unknown impair site {shorten(repr(imp.site))}; choose one of {', '.join(IMPAIR_SITES)}")
    width = spec.d_mlp if imp.site == "mlp_post" else spec.d_model
    units = tuple(imp.neurons)
    for n in units:
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < width:
            raise OutOfRangeError(
                f"neuron {n!r} does not exist; {imp.site} of layer {imp.layer} has units 0-{width - 1}")
    if len(set(units)) != len(units):
        raise InterventionError(f"neurons are listed more than once in {_about(imp)}; list each once")
    _check_finite(imp.intensity, "intensity", imp)
    if imp.mode == "mean":
        if imp.mean is None or len(imp.mean) != len(units):
            raise InterventionError(
                f"mode 'mean' needs one mean value per neuron ({len(units)}), got "
                f"{None if imp.mean is None else len(imp.mean)}; pass mean=(...)")
        for value in imp.mean:
            _check_finite(value, "every mean value", imp)


def check_inject(inj: Inject, spec: ModelSpec) -> None:
    """Validate an Inject's layer, vector length and values."""
    check_layer(inj.layer, spec.n_layers, inj)
    if len(inj.vector) != spec.d_model:
        raise InterventionError(
            f"the injected vector has {len(inj.vector)} values; this model needs d_model = {spec.d_model}")
    _check_finite(inj.scale, "scale", inj)
    if not all(math.isfinite(v) for v in inj.vector):
        raise InterventionError("the injected vector contains NaN or inf; pass finite values")


def check_ablate(abl: Ablate, spec: ModelSpec) -> None:
    """Validate an Ablate's layer, head and mode."""
    check_layer(abl.layer, spec.n_layers, abl)
    n_heads = spec.n_heads
    if isinstance(abl.head, bool) or not isinstance(abl.head, int) or not 0 <= abl.head < n_heads:
        raise OutOfRangeError(f"head {abl.head!r} does not exist; this model has heads 0-{n_heads - 1}")
    if abl.mode not in ("zero", "mean"):
        raise InterventionError(f"unknown ablation mode {shorten(repr(abl.mode))}; choose 'zero' or 'mean'")


def check_weight_delta(delta: WeightDelta, spec: ModelSpec) -> None:
    """Validate a WeightDelta's layer, rank, factor sizes, scale and values."""
    check_layer(delta.layer, spec.n_layers, delta)
    d_mlp, d_model, rank = spec.d_mlp, spec.d_model, delta.rank
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise InterventionError(f"a weight delta needs rank >= 1 and 2-d factors, got rank {rank!r}; "
                                "build it with WeightDelta.from_factors(layer, left, right)")
    if len(delta.left) != 4 * d_mlp * rank or len(delta.right) != 4 * rank * d_model:
        raise InterventionError(
            f"a rank-{rank} delta of layer {delta.layer}'s MLP output weights needs left ({d_mlp}, {rank}) "
            f"and right ({rank}, {d_model}) float32 factors; got {len(delta.left) // 4} and "
            f"{len(delta.right) // 4} values")
    _check_finite(delta.scale, "scale", delta)
    for part in (delta.left, delta.right):
        if not np.isfinite(np.frombuffer(part, dtype=np.float32)).all():
            raise InterventionError("the weight delta contains NaN or inf; pass finite factors")
