"""Interventions as values (impair, inject, ablate, weight deltas, patches) and the checks they share.

Interventions are values: frozen, hashable dataclasses a run takes as a list.

They name *what* to change. Each kind also knows how to check itself against a
model (:meth:`Intervention.check`) and how to compile itself into the
:class:`~engine.hooks.Hook` a run installs (:meth:`Intervention.compile`); the
engine only loops over them (:func:`compile_hooks`). Being hashable, they
double as cache keys for the app.

Checks shared by every intervention and by the engine's layer arguments, with the fix in every message.

Each intervention checks itself (``Intervention.check``); these are the pieces they share.

Activation patching as an intervention value: put another run's activations into this run.

A :class:`Patch` replaces one site's activation at some positions with given
values (usually the same site of another prompt's clean run). It compiles to
a :class:`~engine.hooks.Hook` like every other intervention, so it runs
through the same hooks, prefix cache and batching (``Engine.run_batch``).

Sites:
    resid_pre: the residual stream entering block ``layer`` (``d_model`` wide).
    head:      head ``head``'s result ``z`` in block ``layer`` (``d_head`` wide). A head's write
               is ``z @ W_O[head]``, linear in ``z``, so patching ``z`` patches the head's output.
    mlp_out:   the MLP output of block ``layer`` (``d_model`` wide).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field, replace
from typing import Literal, Sequence, Union

import numpy as np
import torch

from engine.errors import GenerationError, InterventionError, OutOfRangeError, shorten
from engine.hooks import AblateHook, DeltaHook, Hook, ImpairHook, InjectHook
from engine.spec import ModelSpec


def about(what: object) -> str:
    """A short name for an intervention (or any argument) in a message: its ``about()`` where it has one
    (a repr may hold thousands of units), else its repr, shortened."""
    describe = getattr(what, "about", None)
    return describe() if callable(describe) else shorten(repr(what), 60)


def check_layer(layer: int, n_layers: int, what: object = None) -> int:
    """``layer`` as an int (numpy integers too); OutOfRangeError unless ``0 <= layer < n_layers``.

    The one layer check: the engine, its traces and every package call it.
    """
    index = None if isinstance(layer, bool) or not hasattr(layer, "__index__") else operator.index(layer)
    if index is None or not 0 <= index < n_layers:
        where = "" if what is None else f" (in {about(what)})"
        raise OutOfRangeError(f"layer {layer!r} does not exist; this model has layers 0-{n_layers - 1}{where}")
    return index


def check_layers(layers: Sequence[int] | None, n_layers: int) -> tuple[int, ...]:
    """``layers`` (default: all) checked, without repeats and sorted; OutOfRangeError when none is chosen."""
    layers = tuple(range(n_layers)) if layers is None else tuple(sorted({check_layer(l, n_layers) for l in layers}))
    if not layers:
        raise OutOfRangeError(f"no layers chosen; this model has layers 0-{n_layers - 1}")
    return layers


def check_head(head: int, n_heads: int) -> None:
    """OutOfRangeError unless ``head`` is an int in ``0..n_heads-1``."""
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < n_heads:
        raise OutOfRangeError(f"head {head!r} does not exist; this model has heads 0-{n_heads - 1}")


def check_finite(value: float, name: str, what: object) -> None:
    """InterventionError naming ``name`` and the intervention ``what`` unless ``value`` is finite."""
    if not math.isfinite(float(value)):
        raise InterventionError(f"{name} must be a finite number, got {value!r} (in {about(what)})")


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


def generation_positions(positions: str | Sequence[int], n_prompt: int, n_total: int) -> tuple[int, ...]:
    """Absolute positions an intervention's ``positions`` covers in a generation of ``n_total`` positions
    after a prompt of ``n_prompt``: "all" every position, "last" the prompt's last and every generated
    one, explicit ones the prompt's only (see ``engine.generate``)."""
    if positions == "all":
        return tuple(range(n_total))
    if positions == "last":
        return tuple(range(n_prompt - 1, n_total))
    return resolve_positions(positions, n_prompt)


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
    """What every intervention value can do (Impair, Inject, Ablate, WeightDelta, Patch)."""

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


PatchSite = Literal["resid_pre", "head", "mlp_out"]
PATCH_SITES: tuple[str, ...] = ("resid_pre", "head", "mlp_out")


@dataclass(frozen=True)
class Patch(Intervention):
    """Replace ``site`` of block ``layer`` at ``positions`` by ``values`` for one run.

    ``values`` holds ``(len(positions), width)`` float32 in row-major bytes (hashable, a cache key);
    build one with :meth:`from_tensor`. ``head`` is needed for the ``head`` site only.
    """

    layer: int
    site: PatchSite
    positions: tuple[int, ...]
    values: bytes = field(repr=False)
    head: int | None = None

    @staticmethod
    def from_tensor(layer: int, site: PatchSite, positions: tuple[int, ...], values,
                    head: int | None = None) -> "Patch":
        """From ``values`` ``(len(positions), width)`` (a tensor or an array)."""
        if hasattr(values, "detach"):
            values = values.detach().to("cpu", torch.float32).numpy()
        array = np.ascontiguousarray(np.asarray(values, dtype=np.float32))
        return Patch(layer=int(layer), site=site, positions=tuple(int(p) for p in positions),
                     values=array.tobytes(), head=None if head is None else int(head))

    def check(self, spec: ModelSpec) -> None:
        """The layer, the site and (for the head site) the head."""
        check_layer(self.layer, spec.n_layers, self)
        self._width(spec)

    def _width(self, spec: ModelSpec) -> int:
        """The patched activation's width, after checking the site and head."""
        if self.site not in PATCH_SITES:
            raise InterventionError(f"unknown patch site {self.site!r}; choose one of {', '.join(PATCH_SITES)}")
        if self.site != "head":
            return spec.d_model
        check_head(self.head, spec.n_heads)
        return spec.d_head

    def _positions(self, n_pos: int) -> tuple[int, ...]:
        """The patch's positions, checked: each in the prompt, none twice, in increasing order."""
        for p in self.positions:
            if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < n_pos:
                raise OutOfRangeError(f"position {p!r} does not exist; this prompt has positions 0-{n_pos - 1}")
        if list(self.positions) != sorted(set(self.positions)):
            raise InterventionError("a patch's positions must be increasing, each listed once")
        return self.positions

    def compile(self, n_pos: int, samples: int, spec: ModelSpec) -> Hook:
        """This patch checked against the model and a prompt of ``n_pos`` tokens (and its values' size)."""
        self.check(spec)
        width, positions = self._width(spec), self._positions(n_pos)
        if len(self.values) != 4 * len(positions) * width:
            raise InterventionError(
                f"a {self.site} patch of {len(positions)} positions needs ({len(positions)}, {width}) "
                f"float32 values; got {len(self.values) // 4}")
        return PatchHook(self, positions, width, n_pos, spec.n_heads)


class PatchHook(Hook):
    """Patch: set the site's rows at ``positions`` to the given values."""

    def __init__(self, patch: Patch, positions: tuple[int, ...], width: int, n_pos: int, n_heads: int) -> None:
        target, pre = {"resid_pre": ("blocks", True), "head": ("attn_o", True),
                       "mlp_out": ("mlp", False)}[patch.site]
        super().__init__(patch, patch.layer, target, pre, positions, n_pos)
        values = np.frombuffer(patch.values, dtype=np.float32).reshape(len(positions), width)
        self.values = torch.from_numpy(values.copy())
        self.head = patch.head
        self.n_heads = n_heads
        self.in_mlp = patch.site == "mlp_out"
        # The prefix cache's last-block shortcut runs that block's attention without calling the
        # block, so a block input hook would be skipped there: a resid_pre patch runs blocks whole.
        self.whole_prompt = patch.site == "resid_pre"

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(batch, q, width)`` (for a head, ``(batch, q, n_heads * d_head)``) with the patched rows set."""
        found = self.rows(q0, q1)
        if found is None:
            return x
        rows, picked = found
        x = x.clone()
        if self.head is None:
            x[:, rows] = self.values[picked].to(x.dtype)
            return x
        z = x.unflatten(-1, (self.n_heads, -1))
        z[:, rows, self.head] = self.values[picked].to(x.dtype)
        return z.flatten(-2)
