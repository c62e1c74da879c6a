"""Hooks: interventions compiled for one run, and installing them for a ``with`` block.

Install a run's hooks for the length of a ``with`` block, and always remove them.

The model is shared by every session, so a hook that outlived its run would
corrupt someone else's result: every handle is removed in ``finally``, also
when the run raises. Intervention hooks are registered before captures, so
captures see the changed values.

Hooks: interventions compiled for one run (validated, positions resolved, noise drawn).

A :class:`Hook` knows which module of which block it changes and how; the run
installs it on that module. Every intervention value compiles itself into one
(``Intervention.compile``, see ``engine.interventions``). Hooks map absolute
prompt positions to the rows of whatever slice of the prompt a block call
computes (see ``engine.adapter``), so the same numbers come out of the full path
and the prefix-cache paths.

Noise: for sample k, ``eps_k ~ N(0, 1)`` of shape ``(pos, n_units)`` is drawn
from a generator seeded by ``(seed, layer, site, k)``, over the *whole*
prompt, then the impaired positions are picked. So the numbers depend neither
on the path a run takes nor on how many samples it asks for (sample 0 is the
same draw for K=1 and K=8). ``negative_noise`` uses ``eps - max(eps)``, the
maximum taken per sample over the impaired positions and units together.
"""

from __future__ import annotations

import functools
import hashlib
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from typing import Iterator, Sequence, TYPE_CHECKING

import numpy as np
import torch

from engine.adapter import Adapter, Frame
from engine.spec import ModelSpec


if TYPE_CHECKING:
    from engine.interventions import Ablate, Impair, Inject, WeightDelta


def noise_seed(seed: int, layer: int, site: str, sample: int) -> int:
    """A stable 63-bit seed for one sample's noise (independent of Python's hash salt)."""
    digest = hashlib.blake2b(f"{seed}:{layer}:{site}:{sample}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


# Memoise small draws only: at most 256 entries of 32k floats (32 MiB).
_MEMO_MAX_FLOATS = 1 << 15


def _eps_sample(seed: int, layer: int, site: str, sample: int, n_pos: int, n_units: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(noise_seed(seed, layer, site, sample))
    return torch.randn(n_pos, n_units, generator=gen)


_eps_memo = functools.lru_cache(maxsize=256)(_eps_sample)


def draw_eps(seed: int, layer: int, site: str, samples: int, n_pos: int, n_units: int) -> torch.Tensor:
    """``(samples, n_pos, n_units)`` standard normal noise, one seeded generator per sample.

    Draws are memoised (sweeps repeat them across intensities); the result is a fresh tensor.
    """
    draw = _eps_memo if n_pos * n_units <= _MEMO_MAX_FLOATS else _eps_sample
    return torch.stack([draw(seed, layer, site, k, n_pos, n_units) for k in range(samples)])


class Hook:
    """One intervention ready to install: where it acts and how it changes a tensor.

    target: which module of block ``layer`` ("blocks", "attn", "attn_o", "mlp", "mlp_o"); ``pre``:
    change the module's input (else its output). ``first``: the earliest position it touches
    (``n_pos`` if none). ``whole_prompt``: must see every position in one call (mean ablation).
    ``in_mlp``: acts inside the MLP only (the run may skip the block's attention). ``reads_input``:
    a post hook that also reads the module's input (a weight delta). ``units``: the units an
    mlp_post hook changes (the run's linear shortcut reads them), else None.
    """

    stochastic = False
    in_mlp = False
    whole_prompt = False
    reads_input = False
    units: torch.Tensor | None = None

    def __init__(self, source, layer: int, target: str, pre: bool, positions: tuple[int, ...],
                 n_pos: int) -> None:
        self.source = source
        self.layer = layer
        self.target = target
        self.pre = pre
        self.positions = torch.tensor(positions, dtype=torch.long)
        self.first = positions[0] if positions else n_pos
        self._rows: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor] | None] = {}

    def rows(self, q0: int, q1: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(rows of the call's tensor, indices into ``positions``) for rows q0..q1-1, or None."""
        key = (q0, q1)
        if key not in self._rows:
            inside = ((self.positions >= q0) & (self.positions < q1)).nonzero().squeeze(1)
            self._rows[key] = None if inside.numel() == 0 else (self.positions[inside] - q0, inside)
        return self._rows[key]

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (the module's input for a pre hook, its output for a post hook), rows q0..q1-1 of the
        prompt, changed; ``x_in``: the module's input, given to a post hook that ``reads_input``."""
        raise NotImplementedError

    def size(self) -> float:
        """How large a change this hook makes (0 when it only removes); the run's NaN message blames
        the largest."""
        return 0.0

    def place(self, device: torch.device, dtype: torch.dtype) -> "Hook":
        """Move this hook's tensors to the model's ``device``; its values also to the model's ``dtype``."""
        for name, value in list(vars(self).items()):
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device, dtype) if value.is_floating_point() else value.to(device))
        self._rows.clear()
        return self


def _largest(values: torch.Tensor) -> float:
    return float(values.abs().max()) if values.numel() else 0.0


class ImpairHook(Hook):
    """Impair: change some units (neurons or residual dimensions) at some positions."""

    in_mlp = True

    def __init__(self, imp: Impair, positions: tuple[int, ...], n_pos: int, samples: int) -> None:
        target, pre = {"mlp_post": ("mlp_o", True), "mlp_in": ("mlp", True),
                       "mlp_out": ("mlp", False)}[imp.site]
        super().__init__(imp, imp.layer, target, pre, positions, n_pos)
        self.units = torch.tensor(tuple(imp.neurons), dtype=torch.long)
        self.mode = imp.mode
        self.factor = float(imp.intensity)
        self.stochastic = imp.noisy and imp.intensity != 0
        self.mean = None if imp.mean is None else torch.tensor(tuple(imp.mean), dtype=torch.float32)
        self.delta = self._delta(imp, n_pos, samples) if self.stochastic else None

    def _delta(self, imp: Impair, n_pos: int, samples: int) -> torch.Tensor:
        """``(samples, n_selected_positions, n_units)`` what noise adds."""
        eps = draw_eps(imp.seed, imp.layer, imp.site, samples, n_pos, len(self.units))
        eps = eps[:, self.positions]
        if imp.mode == "negative_noise" and eps.numel():
            eps = eps - eps.amax(dim=(1, 2), keepdim=True)
        return float(imp.intensity) * eps

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(batch, q, width)`` -> the same with the chosen units changed."""
        found = self.rows(q0, q1)
        if found is None or self.units.numel() == 0:
            return x
        rows, picked = found
        index = (slice(None), rows.unsqueeze(1), self.units)
        if self.mode == "scale":
            new = x[index] * self.factor
        elif self.mode == "zero":
            new = x.new_zeros(())
        elif self.mode == "mean":
            new = self.mean
        elif self.delta is None:
            return x
        else:
            new = x[index] + self.delta[:, picked]
        x = x.clone()
        x[index] = new
        return x

    def size(self) -> float:
        return _largest(self.mean if self.mode == "mean" else torch.tensor([self.factor]))


class InjectHook(Hook):
    """Inject: add ``scale * vector`` to the attention output at some positions."""

    def __init__(self, inj: Inject, positions: tuple[int, ...], n_pos: int) -> None:
        super().__init__(inj, inj.layer, "attn", False, positions, n_pos)
        self.add = float(inj.scale) * torch.tensor(tuple(inj.vector), dtype=torch.float32)

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(batch, q, d_model)`` attention output."""
        found = self.rows(q0, q1)
        if found is None:
            return x
        x = x.clone()
        x[:, found[0]] += self.add
        return x

    def size(self) -> float:
        return _largest(self.add)


class AblateHook(Hook):
    """Ablate: zero one head's ``z`` (so its write), or set it to its mean over the prompt's positions.

    The write is linear in ``z``, so the mean of ``z`` gives the mean write. The
    output bias belongs to no head and stays.
    """

    def __init__(self, abl: Ablate, n_pos: int, n_heads: int) -> None:
        super().__init__(abl, abl.layer, "attn_o", True, tuple(range(n_pos)), n_pos)
        self.whole_prompt = abl.mode == "mean"
        self.head = abl.head
        self.n_heads = n_heads

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(batch, q, n_heads * d_head)`` concatenated head results."""
        z = x.clone().unflatten(-1, (self.n_heads, -1))
        if self.whole_prompt:
            z[:, :, self.head] = z[:, :, self.head].mean(dim=1, keepdim=True)
        else:
            z[:, :, self.head] = 0.0
        return z.flatten(-2)


class DeltaHook(Hook):
    """WeightDelta: add ``scale * (mlp_post @ left) @ right`` to the MLP output projection's output.

    That is what the projection computes with ``W_out + scale * left @ right``, at every position,
    without touching the shared weights. It reads the projection's input (the neurons, after any
    Impair of them), so it is a post hook that ``reads_input``.
    """

    reads_input = True

    def __init__(self, delta: WeightDelta, n_pos: int, spec: ModelSpec) -> None:
        super().__init__(delta, delta.layer, "mlp_o", False, tuple(range(n_pos)), n_pos)
        rank = delta.rank
        self.left = torch.from_numpy(np.frombuffer(delta.left, dtype=np.float32).reshape(spec.d_mlp, rank).copy())
        right = np.frombuffer(delta.right, dtype=np.float32).reshape(rank, spec.d_model)
        self.right = float(delta.scale) * torch.from_numpy(right.copy())

    def apply(self, x: torch.Tensor, q0: int, q1: int, x_in: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(batch, q, d_model)`` projection output; ``x_in``: ``(batch, q, d_mlp)`` its input (the
        neurons) -> ``x`` plus the delta."""
        if x_in is None:
            raise ValueError("a weight delta's hook reads the module's input; pass it as x_in")
        return x + (x_in @ self.left.to(x_in.dtype)) @ self.right.to(x_in.dtype)

    def size(self) -> float:
        return _largest(self.right)


def blame(hooks: Sequence[Hook]) -> str:
    """Name the intervention most likely to have produced NaN/inf: the one whose hook changes the most."""
    return brief(max(hooks, key=lambda h: h.size()).source)


def brief(item: object, keep: int = 4) -> str:
    """An intervention in one short line: a long tuple (units, a vector, means) shows its first
    ``keep`` values and its length, so an error message stays readable for a 128-unit cluster."""
    if not is_dataclass(item):
        return repr(item)
    parts = []
    for f in fields(item):
        value = getattr(item, f.name)
        if isinstance(value, tuple) and len(value) > keep:
            shown = ", ".join(f"{v:g}" if isinstance(v, float) else repr(v) for v in value[:keep])
            parts.append(f"{f.name}=({shown}, … {len(value)} in all)")
        else:
            parts.append(f"{f.name}={value!r}")
    return f"{type(item).__name__}({', '.join(parts)})"


class Cursor:
    """The frame (rows q0..q1-1) the current block call computes; the run moves it."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame


class Capture:
    """Per-layer activations seen by hooks: attn_out, z, mlp_in, mlp_post, mlp_out (patterns: ``Engine.pattern``).

    Each entry is ``layer -> tensor`` with the batch dimension kept.
    """

    SITES = ("attn_out", "z", "mlp_in", "mlp_post", "mlp_out")

    def __init__(self) -> None:
        self.seen: dict[str, dict[int, torch.Tensor]] = {site: {} for site in self.SITES}


def _first(output):
    return output[0] if isinstance(output, tuple) else output


def _hook_fn(hook: Hook, cursor: Cursor):
    """The torch hook that applies ``hook`` to the rows the current block call computes."""
    if hook.pre:
        def pre_hook(module, args):
            frame = cursor.frame
            return (hook.apply(args[0], frame.q0, frame.q1),) + tuple(args[1:])
        return pre_hook

    def post_hook(module, args, output):
        frame = cursor.frame
        x_in = args[0] if hook.reads_input else None
        if isinstance(output, tuple):
            return (hook.apply(output[0], frame.q0, frame.q1, x_in),) + tuple(output[1:])
        return hook.apply(output, frame.q0, frame.q1, x_in)
    return post_hook


def _register_hooks(adapter: Adapter, hooks: Sequence[Hook], cursor: Cursor, handles: list) -> None:
    for hook in hooks:
        module = getattr(adapter, hook.target)[hook.layer]
        fn = _hook_fn(hook, cursor)
        handles.append(module.register_forward_pre_hook(fn) if hook.pre else module.register_forward_hook(fn))


def _register_capture(adapter: Adapter, capture: Capture, layers: range, handles: list) -> None:
    seen = capture.seen
    for layer in layers:
        def attn_hook(module, args, output, layer=layer):
            seen["attn_out"][layer] = _first(output)

        def pre(site, layer=layer):
            def hook(module, args):
                seen[site][layer] = args[0]
            return hook

        def mlp_hook(module, args, output, layer=layer):
            seen["mlp_out"][layer] = _first(output)

        handles += [
            adapter.attn[layer].register_forward_hook(attn_hook),
            adapter.attn_o[layer].register_forward_pre_hook(pre("z")),
            adapter.mlp[layer].register_forward_pre_hook(pre("mlp_in")),
            adapter.mlp_o[layer].register_forward_pre_hook(pre("mlp_post")),
            adapter.mlp[layer].register_forward_hook(mlp_hook),
        ]


@contextmanager
def installed(adapter: Adapter, hooks: Sequence[Hook], cursor: Cursor,
              capture: Capture | None = None, capture_layers: range | None = None) -> Iterator[None]:
    """``hooks`` (and ``capture`` on ``capture_layers``) installed, removed on exit, even on error."""
    handles: list = []
    try:
        _register_hooks(adapter, hooks, cursor, handles)
        if capture is not None:
            layers = capture_layers if capture_layers is not None else range(adapter.n_layers)
            _register_capture(adapter, capture, layers, handles)
        yield
    finally:
        for handle in handles:
            handle.remove()
