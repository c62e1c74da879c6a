"""Interventions are values: frozen, hashable dataclasses a run takes as a list.

They name *what* to change. Each kind also knows how to check itself against a
model (:meth:`Intervention.check`) and how to compile itself into the
:class:`~engine.hooked.Hook` a run installs (:meth:`Intervention.compile`); the
engine only loops over them (:func:`compile_hooks`). Being hashable, they
double as cache keys for the app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, Sequence, Union

import numpy as np
import torch

from engine.checks import check_finite, check_head, check_layer, generation_positions, resolve_positions
from engine.errors import GenerationError, InterventionError, OutOfRangeError, shorten
from engine.hooked import AblateHook, DeltaHook, Hook, ImpairHook, InjectHook
from engine.spec import ModelSpec

ImpairMode = Literal["noise", "negative_noise", "scale", "zero", "mean"]
# mlp_post: the MLP hidden activations (the neurons, d_mlp wide);
# mlp_out: the MLP output before it joins the residual stream (d_model wide);
# mlp_in: the hidden state the MLP reads, after its layer norm (d_model wide).
ImpairSite = Literal["mlp_post", "mlp_out", "mlp_in"]
# "all", "last", or explicit token positions (negative counts from the end).
Positions = Union[Literal["all", "last"], tuple[int, ...]]

IMPAIR_MODES: tuple[str, ...] = ("noise", "negative_noise", "scale", "zero", "mean")
NOISY_MODES: tuple[str, ...] = ("noise", "negative_noise")  # the modes that draw random noise (so take seeds)
IMPAIR_SITES: tuple[str, ...] = ("mlp_post", "mlp_out", "mlp_in")


class Intervention:
    """What every intervention value can do (Impair, Inject, Ablate, WeightDelta, engine.patches.Patch)."""

    def check(self, spec: ModelSpec) -> None:
        """Raise OutOfRangeError / InterventionError, with the fix in the message, unless this
        intervention fits a model of sizes ``spec`` (what needs the prompt is checked by ``compile``)."""
        raise NotImplementedError

    def compile(self, n_pos: int, samples: int, spec: ModelSpec) -> Hook:
        """This intervention, checked, as the hook of one run over a prompt of ``n_pos`` positions with
        ``samples`` noise draws (CPU float32 tensors; ``Hook.place`` moves them)."""
        raise NotImplementedError

    def for_generation(self, n_prompt: int, n_total: int) -> Intervention:
        """This intervention as it acts on a generation of ``n_total`` positions after a prompt of
        ``n_prompt`` (see ``engine.generate``); most act the same."""
        return self

    def about(self) -> str:
        """A short name for this intervention in a message (its repr may hold thousands of units)."""
        return shorten(repr(self), 60)


@dataclass(frozen=True)
class Impair(Intervention):
    """Impair units of one layer's MLP.

    noise:          x + intensity * eps, eps ~ N(0, 1), seeded by ``seed``.
    negative_noise: the same eps shifted so its maximum is 0, times intensity (the maximum
                    is taken per sample over all impaired positions and units together).
    scale:          x * intensity (intensity is the factor; 1.0 is the identity).
    zero:           x -> 0.
    mean:           x -> ``mean`` (one value per unit in ``neurons``).
    """

    layer: int
    neurons: tuple[int, ...]
    mode: ImpairMode = "noise"
    intensity: float = 1.0
    site: ImpairSite = "mlp_post"
    positions: Positions = "all"
    seed: int = 0
    mean: tuple[float, ...] | None = None

    @property
    def noisy(self) -> bool:
        """Whether this impairment draws random noise (so its seed matters)."""
        return self.mode in NOISY_MODES

    def check(self, spec: ModelSpec) -> None:
        """The layer, mode, site, units, intensity and mean."""
        check_layer(self.layer, spec.n_layers, self)
        if self.mode not in IMPAIR_MODES:
            raise InterventionError(
                f"unknown impair mode {shorten(repr(self.mode))}; choose one of {', '.join(IMPAIR_MODES)}")
        if self.site not in IMPAIR_SITES:
            raise InterventionError(
                f"unknown impair site {shorten(repr(self.site))}; choose one of {', '.join(IMPAIR_SITES)}")
        width = spec.d_mlp if self.site == "mlp_post" else spec.d_model
        units = tuple(self.neurons)
        for n in units:
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < width:
                raise OutOfRangeError(
                    f"neuron {n!r} does not exist; {self.site} of layer {self.layer} has units 0-{width - 1}")
        if len(set(units)) != len(units):
            raise InterventionError(f"neurons are listed more than once in {self.about()}; list each once")
        check_finite(self.intensity, "intensity", self)
        if self.mode == "mean":
            if self.mean is None or len(self.mean) != len(units):
                raise InterventionError(
                    f"mode 'mean' needs one mean value per neuron ({len(units)}), got "
                    f"{None if self.mean is None else len(self.mean)}; pass mean=(...)")
            for value in self.mean:
                check_finite(value, "every mean value", self)

    def compile(self, n_pos: int, samples: int, spec: ModelSpec) -> Hook:
        self.check(spec)
        return ImpairHook(self, resolve_positions(self.positions, n_pos), n_pos, samples)

    def for_generation(self, n_prompt: int, n_total: int) -> Impair:
        return replace(self, positions=generation_positions(self.positions, n_prompt, n_total))

    def about(self) -> str:
        return f"the impairment of {len(tuple(self.neurons))} {shorten(self.site, 20)} units"


@dataclass(frozen=True)
class Inject(Intervention):
    """Add ``scale * vector`` (a ``(d_model,)`` tuple) to the output of layer ``layer``'s attention."""

    layer: int
    vector: tuple[float, ...]
    scale: float = 1.0
    positions: Positions = "all"

    def check(self, spec: ModelSpec) -> None:
        """The layer, the vector's length and values, the scale."""
        check_layer(self.layer, spec.n_layers, self)
        if len(self.vector) != spec.d_model:
            raise InterventionError(
                f"the injected vector has {len(self.vector)} values; this model needs d_model = {spec.d_model}")
        check_finite(self.scale, "scale", self)
        if not all(math.isfinite(v) for v in self.vector):
            raise InterventionError("the injected vector contains NaN or inf; pass finite values")

    def compile(self, n_pos: int, samples: int, spec: ModelSpec) -> Hook:
        self.check(spec)
        return InjectHook(self, resolve_positions(self.positions, n_pos), n_pos)

    def for_generation(self, n_prompt: int, n_total: int) -> Inject:
        return replace(self, positions=generation_positions(self.positions, n_prompt, n_total))

    def about(self) -> str:
        return "the injection"


@dataclass(frozen=True)
class Ablate(Intervention):
    """Remove one head's write to the residual stream: zero it, or replace it by its mean over positions.

    The mean is over the prompt's positions in the same run; the attention output bias is kept.
    """

    layer: int
    head: int
    mode: Literal["zero", "mean"] = "zero"

    def check(self, spec: ModelSpec) -> None:
        """The layer, head and mode."""
        check_layer(self.layer, spec.n_layers, self)
        check_head(self.head, spec.n_heads)
        if self.mode not in ("zero", "mean"):
            raise InterventionError(f"unknown ablation mode {shorten(repr(self.mode))}; choose 'zero' or 'mean'")

    def compile(self, n_pos: int, samples: int, spec: ModelSpec) -> Hook:
        self.check(spec)
        return AblateHook(self, n_pos, spec.n_heads)

    def for_generation(self, n_prompt: int, n_total: int) -> Ablate:
        if self.mode == "mean":
            raise GenerationError("mean ablation averages over the whole sequence, which grows while generating; "
                                  "use mode='zero' to generate")
        return self


@dataclass(frozen=True)
class WeightDelta(Intervention):
    """Add ``scale * left @ right`` to block ``layer``'s MLP output weights ``W_out`` for one run.

    ``W_out`` is read in the ``(d_mlp, d_model)`` layout, so the MLP output becomes
    ``mlp_post @ (W_out + scale * left @ right) + bias``. ``left`` is ``(d_mlp, rank)`` and ``right``
    ``(rank, d_model)``, both float32 in row-major bytes (compact, hashable and fast to compare);
    build one with :meth:`from_factors`. The shared model's weights are never touched.
    """

    layer: int
    rank: int
    left: bytes = field(repr=False)
    right: bytes = field(repr=False)
    scale: float = 1.0

    @staticmethod
    def from_factors(layer: int, left, right, scale: float = 1.0) -> "WeightDelta":
        """From ``left`` ``(d_mlp, rank)`` and ``right`` ``(rank, d_model)`` tensors or arrays."""
        a = np.ascontiguousarray(np.asarray(_plain(left), dtype=np.float32))
        b = np.ascontiguousarray(np.asarray(_plain(right), dtype=np.float32))
        rank = a.shape[1] if a.ndim == 2 else -1
        return WeightDelta(layer=layer, rank=rank, left=a.tobytes(), right=b.tobytes(), scale=float(scale))

    def check(self, spec: ModelSpec) -> None:
        """The layer, rank, factor sizes, scale and values."""
        check_layer(self.layer, spec.n_layers, self)
        d_mlp, d_model, rank = spec.d_mlp, spec.d_model, self.rank
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise InterventionError(f"a weight delta needs rank >= 1 and 2-d factors, got rank {rank!r}; "
                                    "build it with WeightDelta.from_factors(layer, left, right)")
        if len(self.left) != 4 * d_mlp * rank or len(self.right) != 4 * rank * d_model:
            raise InterventionError(
                f"a rank-{rank} delta of layer {self.layer}'s MLP output weights needs left ({d_mlp}, {rank}) "
                f"and right ({rank}, {d_model}) float32 factors; got {len(self.left) // 4} and "
                f"{len(self.right) // 4} values")
        check_finite(self.scale, "scale", self)
        for part in (self.left, self.right):
            if not np.isfinite(np.frombuffer(part, dtype=np.float32)).all():
                raise InterventionError("the weight delta contains NaN or inf; pass finite factors")

    def compile(self, n_pos: int, samples: int, spec: ModelSpec) -> Hook:
        self.check(spec)
        return DeltaHook(self, n_pos, spec)


def _plain(x):
    """A torch tensor as a detached CPU float32 array; anything else as is."""
    if hasattr(x, "detach"):
        return x.detach().to("cpu").float().numpy()
    return x


def compile_hooks(interventions: Sequence, n_pos: int, samples: int, spec: ModelSpec,
                  device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> list[Hook]:
    """Each of ``interventions`` checked against the model and prompt and compiled into its hook.

    ``spec``: the model's sizes (n_layers, n_heads, d_model, d_mlp). Noise is drawn on the CPU (so a
    seed gives the same numbers on every device), then every tensor moves to ``device`` and ``dtype``.
    """
    hooks: list[Hook] = []
    for item in interventions:
        if not isinstance(item, Intervention):
            raise InterventionError(
                f"{item!r} is not an intervention; pass Impair, Inject or Ablate values, a Patch, or a WeightDelta")
        hooks.append(item.compile(n_pos, samples, spec))
    if device is not None:
        for hook in hooks:
            hook.place(device, dtype)
    return hooks
